/* mpi_allreduce.c - how long MPI_Allreduce (MPI_SUM, in place) of n doubles takes here, with
 * nothing else to do: the floor under the time `tapegrad train` spends in its gradient sum on
 * MPI ranks (the rest of that time is waiting for the slowest rank). Run by tests/bench/mpi.sh:
 *   mpirun -np 2 mpi_allreduce N...   prints "N doubles: median T us (min .. max over R rounds)".
 * See LICENSE. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#define ROUNDS 15
#define CALLS 200

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    for (int a = 1; a < argc; a++) {
        int n = atoi(argv[a]);
        double *buf = calloc((size_t)(n > 0 ? n : 1), sizeof *buf), t[ROUNDS];
        if (!buf || n < 1) MPI_Abort(MPI_COMM_WORLD, 2);
        for (int r = 0; r < ROUNDS; r++) {
            MPI_Barrier(MPI_COMM_WORLD);
            double t0 = MPI_Wtime();
            for (int c = 0; c < CALLS; c++)
                MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
            t[r] = (MPI_Wtime() - t0) / CALLS;
        }
        qsort(t, ROUNDS, sizeof t[0], cmp);
        if (rank == 0)
            printf("%d doubles (%.1f KB): median %.1f us (%.1f .. %.1f over %d rounds of %d)\n",
                   n, n * 8 / 1024.0, 1e6 * t[ROUNDS / 2], 1e6 * t[0], 1e6 * t[ROUNDS - 1],
                   ROUNDS, CALLS);
        free(buf);
    }
    MPI_Finalize();
    return 0;
}
