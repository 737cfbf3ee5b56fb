/* test_data.c - the data sets of tapegrad_nn.h: generators are seeded and shaped as documented,
 * the CSV reader takes a header and reports bad cells, ragged rows, empty files and NaNs with
 * exact messages, the split is seeded and disjoint. Fixtures in tests/data/. See LICENSE. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tapegrad_nn.h"

static tg_status csv_text(tg_dataset *ds, const char *text)
{
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    cr_assert(f);
    tg_status st = tg_data_csv_stream(ds, f, "t.csv");
    fclose(f);
    return st;
}

Test(data, generators_are_seeded_and_balanced)
{
    tg_status (*gen[3])(tg_dataset *, int, uint64_t) = {tg_data_spirals, tg_data_moons,
                                                          tg_data_xor};
    for (int g = 0; g < 3; g++) {
        tg_dataset a, b, c;
        cr_assert_eq(gen[g](&a, 100, 7), TG_OK);
        cr_assert_eq(gen[g](&b, 100, 7), TG_OK);
        cr_assert_eq(gen[g](&c, 100, 8), TG_OK);
        cr_assert_eq(a.n, 100);
        cr_assert_eq(a.d, 2);
        cr_assert_eq(a.classes, 2);
        cr_assert(memcmp(a.X, b.X, 200 * sizeof(double)) == 0, "generator %d: same seed differs", g);
        cr_assert(memcmp(a.X, c.X, 200 * sizeof(double)) != 0, "generator %d: seed ignored", g);
        int ones = 0;
        for (int i = 0; i < 100; i++) {
            cr_assert(a.y[i] == 0 || a.y[i] == 1);
            ones += a.y[i] == 1;
        }
        cr_assert(ones > 30 && ones < 70, "generator %d: %d of 100 in class 1", g, ones);
        tg_data_free(&a);
        tg_data_free(&b);
        tg_data_free(&c);
    }
    tg_dataset r;
    cr_assert_eq(tg_data_curve(&r, 50, 1), TG_OK);
    cr_assert_eq(r.d, 1);
    cr_assert_eq(r.classes, 0);
    for (int i = 0; i < 50; i++) cr_assert(fabs(r.y[i] - (sin(r.X[i]) + 0.3 * r.X[i])) < 0.6);
    tg_data_free(&r);
    cr_assert_eq(tg_data_xor(&r, 3, 1), TG_ERR_ARG);
    cr_assert_str_eq(tg_data_error(&r), "tg_data_xor: n = 3 is too small (at least 4 points)");
    cr_assert_null(r.X);
    cr_assert_eq(tg_data_curve(&r, 4, 1), TG_OK);
    cr_assert_null(tg_data_error(&r));
    tg_data_free(&r);
}

Test(data, csv_with_header_from_a_file)
{
    tg_dataset ds;
    cr_assert_eq(tg_data_csv(&ds, "tests/data/small.csv"), TG_OK, "%s", tg_data_error(&ds));
    cr_assert_null(tg_data_error(&ds));
    cr_assert_eq(ds.n, 3);
    cr_assert_eq(ds.d, 2);
    cr_assert_eq(ds.classes, 3);
    cr_assert_eq(ds.X[2], -0.5);
    cr_assert_eq(ds.y[2], 2);
    tg_data_free(&ds);
}

Test(data, csv_real_labels_make_a_regression)
{
    tg_dataset ds;
    cr_assert_eq(csv_text(&ds, "1,0.5\r\n2,1.5\n\n3,2.5\n"), TG_OK, "%s", tg_data_error(&ds));
    cr_assert_eq(ds.n, 3);
    cr_assert_eq(ds.classes, 0);
    tg_data_free(&ds);
}

Test(data, csv_errors_say_where)
{
    static const struct {
        const char *text, *msg;
    } cases[] = {
        {"1,2,0\n3,x4,1\n", "t.csv:2:3: 'x4' is not a number"},
        {"a,b,c\n1,2,0\n3,4,1\n5,,1\n", "t.csv:4:3: '' is not a number"},
        {"1,2,0\n3,4\n", "t.csv:2: 2 columns, expected 3 (as on line 1)"},
        {"1,2,0\n3,4,1,7\n", "t.csv:2: 4 columns, expected 3 (as on line 1)"},
        {"", "t.csv: no data rows"},
        {"x,y,label\n", "t.csv: no data rows"},
        {"1,2,0\n3,NaN,1\n", "t.csv:2:3: NaN in the data"},
        {"7\n", "t.csv:1: only one column (need features and a label)"},
        {"1,2,0\n3,inf,1\n", "t.csv:2:3: 'inf' is not a number"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tg_dataset ds;
        cr_assert_eq(csv_text(&ds, cases[i].text), TG_ERR_ARG, "case %zu", i);
        cr_assert_str_eq(tg_data_error(&ds), cases[i].msg, "case %zu", i);
        cr_assert_null(ds.X);
        cr_assert_null(ds.y);
        cr_assert_eq(ds.n, 0);
    }
}

Test(data, csv_files_that_are_bad)
{
    tg_dataset ds;
    cr_assert_eq(tg_data_csv(&ds, "tests/data/ragged.csv"), TG_ERR_ARG);
    cr_assert_str_eq(tg_data_error(&ds),
                     "tests/data/ragged.csv:3: 2 columns, expected 3 (as on line 1)");
    cr_assert_eq(tg_data_csv(&ds, "tests/data/empty.csv"), TG_ERR_ARG);
    cr_assert_str_eq(tg_data_error(&ds), "tests/data/empty.csv: no data rows");
    cr_assert_eq(tg_data_csv(&ds, "tests/data/nan.csv"), TG_ERR_ARG);
    cr_assert_str_eq(tg_data_error(&ds), "tests/data/nan.csv:2:3: NaN in the data");
    cr_assert_eq(tg_data_csv(&ds, "tests/data/missing.csv"), TG_ERR_ARG);
    cr_assert_str_eq(tg_data_error(&ds),
                     "tests/data/missing.csv: cannot open (No such file or directory)");
    cr_assert_eq(tg_data_csv(&ds, "tests/data/small.csv"), TG_OK);
    cr_assert_null(tg_data_error(&ds), "a read that succeeds leaves no message");
    tg_data_free(&ds);
}

Test(data, split_is_seeded_disjoint_and_twenty_percent)
{
    tg_dataset all, tr, te, tr2, te2;
    cr_assert_eq(tg_data_xor(&all, 101, 3), TG_OK);
    for (int i = 0; i < all.n; i++) all.X[2 * i] = i; /* tag the rows */
    cr_assert_eq(tg_data_split(&all, 0.2, 5, &tr, &te), TG_OK);
    cr_assert_eq(tg_data_split(&all, 0.2, 5, &tr2, &te2), TG_OK);
    cr_assert_eq(te.n, 20);
    cr_assert_eq(tr.n, 81);
    cr_assert(memcmp(te.X, te2.X, (size_t)te.n * 2 * sizeof(double)) == 0);
    int seen[101] = {0};
    for (int i = 0; i < tr.n; i++) seen[(int)tr.X[2 * i]]++;
    for (int i = 0; i < te.n; i++) seen[(int)te.X[2 * i]]++;
    for (int i = 0; i < 101; i++) cr_assert_eq(seen[i], 1, "row %d appears %d times", i, seen[i]);
    tg_data_standardize(&tr, &te);
    double mean = 0;
    for (int i = 0; i < tr.n; i++) mean += tr.X[2 * i + 1];
    cr_assert(fabs(mean / tr.n) < 1e-12);
    tg_data_free(&all);
    tg_data_free(&tr);
    tg_data_free(&te);
    tg_data_free(&tr2);
    tg_data_free(&te2);
}

Test(data, split_errors_are_in_both_parts)
{
    tg_dataset all, tr, te;
    cr_assert_eq(tg_data_xor(&all, 10, 3), TG_OK);
    cr_assert_eq(tg_data_split(&all, 1.5, 5, &tr, &te), TG_ERR_ARG);
    cr_assert_str_eq(tg_data_error(&tr), "tg_data_split: test_frac is 1.5 (must be above 0 and "
                                         "below 1)");
    cr_assert_str_eq(tg_data_error(&te), tg_data_error(&tr));
    cr_assert(tr.X == NULL && te.X == NULL && tr.n == 0 && te.n == 0);
    all.n = 1;
    cr_assert_eq(tg_data_split(&all, 0.2, 5, &tr, &te), TG_ERR_ARG);
    cr_assert_str_eq(tg_data_error(&te), "tg_data_split: n = 1 is too small (at least 2 rows)");
    cr_assert_eq(tg_data_split(NULL, 0.2, 5, &tr, &te), TG_ERR_ARG);
    cr_assert_str_eq(tg_data_error(&tr), "tg_data_split: the data set is NULL");
    all.n = 10;
    tg_data_free(&all);
}

Test(data, csv_negative_integer_labels_stay_a_classification)
{
    tg_dataset ds;
    cr_assert_eq(csv_text(&ds, "1,2,0\n3,4,-1\n5,6,1\n"), TG_OK, "%s", tg_data_error(&ds));
    cr_assert_eq(ds.classes, 2);
    cr_assert_eq(ds.y[1], -1);
    tg_data_free(&ds);
}

/* A cell is read whole however long it is: 0.000...0001 written with 300 characters, and a
 * label with 200 leading zeros. */
Test(data, csv_numbers_of_any_length)
{
    char tiny[301], label[202], text[1024];
    memset(tiny, '0', sizeof tiny);
    tiny[1] = '.';
    tiny[299] = '1';
    tiny[300] = '\0'; /* "0." then 297 zeros then 1: 1e-298 */
    memset(label, '0', sizeof label);
    label[200] = '1';
    label[201] = '\0';
    snprintf(text, sizeof text, "x,label\n%s,0\n  -%s ,%s\n", tiny, tiny, label);
    tg_dataset ds;
    cr_assert_eq(csv_text(&ds, text), TG_OK, "%s", tg_data_error(&ds));
    cr_assert_eq(ds.n, 2);
    cr_assert_eq(ds.X[0], 1e-298, "%.17g", ds.X[0]);
    cr_assert_eq(ds.X[1], -1e-298, "%.17g", ds.X[1]);
    cr_assert_eq(ds.y[1], 1);
    cr_assert_eq(ds.classes, 2);
    tg_data_free(&ds);
    snprintf(text, sizeof text, "1,%s%s,0\n", tiny, "x");
    cr_assert_eq(csv_text(&ds, text), TG_ERR_ARG);
    cr_assert(strstr(tg_data_error(&ds), "t.csv:1:3: '0.000") == tg_data_error(&ds), "%s",
              tg_data_error(&ds));
}

/* Every set says which task it is and, read from a CSV file, why: integer labels are classes,
 * unless there would be absurdly many (labels 0 and 2000000000: 2000000001 outputs); a
 * label that is not an integer, or too many classes, makes a regression. */
Test(data, csv_says_which_task_it_chose_and_why)
{
    static const struct {
        const char *text;
        int classes;
        const char *task;
    } cases[] = {
        {"x,label\n1,0\n2,2\n3,1\n", 3,
         "classification into 3 classes: every label is an integer, from 0 to 2"},
        {"1,0\n2,2000000000\n3,1\n", 0,
         "regression: every label is an integer, but the largest, 2000000000 on line 2, would "
         "make 2000000001 classes (at most 10000)"},
        {"x,y\n1,0\n2,0.1\n3,2.5\n", 0, "regression: the label on line 3, 0.1, is not an "
                                          "integer"},
        {"1,0\n2,0\n", 2, "classification into 2 classes: every label is an integer, from 0 "
                          "to 0"},
        {"1,-1\n2,1\n", 2, "classification into 2 classes: every label is an integer, from -1 "
                           "to 1"},
        {"1,0\n2,9999\n", 10000, "classification into 10000 classes: every label is an "
                                  "integer, from 0 to 9999"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tg_dataset ds;
        cr_assert_eq(csv_text(&ds, cases[i].text), TG_OK, "case %zu: %s", i, tg_data_error(&ds));
        cr_expect_eq(ds.classes, cases[i].classes, "case %zu", i);
        cr_expect_str_eq(tg_data_task(&ds), cases[i].task, "case %zu", i);
        tg_data_free(&ds);
        cr_expect_null(tg_data_task(&ds), "an emptied set has no task");
    }
    tg_dataset ds, tr, te;
    cr_assert_eq(tg_data_spirals(&ds, 10, 1), TG_OK);
    cr_expect_str_eq(tg_data_task(&ds), "classification into 2 classes");
    cr_assert_eq(tg_data_split(&ds, 0.2, 1, &tr, &te), TG_OK);
    cr_expect_str_eq(tg_data_task(&tr), "classification into 2 classes");
    cr_expect_str_eq(tg_data_task(&te), "classification into 2 classes");
    tg_data_free(&ds);
    tg_data_free(&tr);
    tg_data_free(&te);
    cr_assert_eq(tg_data_curve(&ds, 10, 1), TG_OK);
    cr_expect_str_eq(tg_data_task(&ds), "regression");
    tg_data_free(&ds);
}

/* Missing outputs and an empty training set are refused or left alone, never dereferenced. */
Test(data, split_with_a_missing_half_and_standardize_of_nothing)
{
    tg_dataset ds, train, test;
    cr_assert_eq(tg_data_xor(&ds, 20, 1), TG_OK);
    cr_expect_eq(tg_data_split(&ds, 0.25, 1, &train, NULL), TG_ERR_ARG);
    cr_expect_str_eq(tg_data_error(&train), "tg_data_split: test is NULL");
    cr_expect_eq(train.n, 0);
    cr_expect_null(train.X);
    cr_expect_eq(tg_data_split(&ds, 0.25, 1, NULL, &test), TG_ERR_ARG);
    cr_expect_str_eq(tg_data_error(&test), "tg_data_split: train is NULL");
    cr_expect_eq(tg_data_split(&ds, 0.25, 1, NULL, NULL), TG_ERR_ARG);

    double x0 = ds.X[0];
    tg_dataset empty = {0};
    empty.d = ds.d;
    tg_data_standardize(&empty, &ds); /* no statistics: ds is left as it was */
    cr_expect_eq(ds.X[0], x0, "an empty train changed the test data: %.17g", ds.X[0]);
    tg_data_standardize(NULL, &ds);
    cr_expect_eq(ds.X[0], x0);
    tg_data_free(&ds);
}
