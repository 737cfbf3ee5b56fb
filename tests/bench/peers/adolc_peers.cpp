// adolc_peers.cpp - issue 6: the ADOL-C side of the peer comparison (W1 and W2).
// Same command line, inputs and outputs as tg_peers.c:
//
//   adolc_peers DATADIR W1 adolc-retape|adolc-reuse verify OUT | time [N]
//   adolc_peers DATADIR W2 adolc verify OUT | time [N]
//
// W1 adolc-retape: per sample trace_on(tag, keep = 1), the 9 weights as independents (x1,
//    x2, t passive doubles), trace_off, fos_reverse (keep = 1 makes the taping run the zero-
//    order forward pass that the reverse sweep needs, so no second forward is made).
// W1 adolc-reuse: taped once with the weights and x1, x2, t as 12 independents; per sample
//    zos_forward(keep = 1) + fos_reverse at the new point: exactly what ADOL-C's gradient()
//    driver does, and it also returns E.
// W2 adolc: taping (trace_on .. trace_off) and gradient() timed separately, on a second
//    pass (the first warms up, as every implementation's does). The buffers are
//    sized from n so the whole tape stays in memory (no tape files written).
// See LICENSE.
#include <adolc/adolc.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

static std::string datadir;

static std::vector<double> load(const char *name)
{
    std::string path = datadir + "/" + name;
    FILE *f = std::fopen(path.c_str(), "rb");
    if (!f) {
        std::perror(path.c_str());
        std::exit(1);
    }
    std::fseek(f, 0, SEEK_END);
    long n = std::ftell(f);
    std::fseek(f, 0, SEEK_SET);
    std::vector<double> v((size_t)n / sizeof(double));
    if (std::fread(v.data(), sizeof(double), v.size(), f) != v.size()) std::exit(1);
    std::fclose(f);
    return v;
}

static void save(const char *path, const std::vector<double> &v)
{
    FILE *f = std::fopen(path, "wb");
    if (!f || std::fwrite(v.data(), sizeof(double), v.size(), f) != v.size() || std::fclose(f))
        std::exit(1);
}

// this process's CPU time unless TG_PEERS_CLOCK=wall (as tg_peers.c)
static clockid_t clk = CLOCK_PROCESS_CPUTIME_ID;

static double now_ns()
{
    timespec ts;
    clock_gettime(clk, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static long vmhwm_kib()
{
    FILE *f = std::fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    while (f && std::fgets(line, sizeof line, f))
        if (!std::strncmp(line, "VmHWM:", 6)) v = std::strtol(line + 6, nullptr, 10);
    if (f) std::fclose(f);
    return v;
}

template <class T> static T sig(const T &z) { return 1.0 / (1.0 + exp(-z)); }

// E = 1/2 (sigmoid(sum_j w2[j] sigmoid(w1[0][j] x1 + w1[1][j] x2)) - t)^2, w = w1 row-major, w2
template <class T, class S> static T article(const T *w, const S &x1, const S &x2, const S &t)
{
    T a2[3];
    for (int j = 0; j < 3; j++) a2[j] = sig<T>(w[j] * x1 + w[3 + j] * x2);
    T z3 = w[6] * a2[0] + w[7] * a2[1] + w[8] * a2[2];
    T d = sig<T>(z3) - t;
    return 0.5 * (d * d);
}

static int w1(bool reuse, bool verify, const char *out, size_t n)
{
    std::vector<double> w = load("w1_weights.bin"), S = load("w1_samples.bin");
    size_t avail = S.size() / 3;
    if (verify) n = 1000;
    if (n > avail) n = avail;
    const short tag = 1;
    std::vector<double> res(verify ? 10 * n : 0);
    double u = 1.0, sum = 0;
    double x[12], g[12], E;
    auto retape_one = [&](const double *s) {
        trace_on(tag, 1);
        adouble aw[9];
        for (int k = 0; k < 9; k++) aw[k] <<= w[k];
        adouble aE = article<adouble, double>(aw, s[0], s[1], s[2]);
        aE >>= E;
        trace_off();
        fos_reverse(tag, 1, 9, &u, g);
    };
    if (reuse) { // tape once with all 12 inputs independent
        trace_on(tag);
        adouble ax[12];
        for (int k = 0; k < 9; k++) ax[k] <<= w[k];
        for (int k = 0; k < 3; k++) ax[9 + k] <<= S[k];
        adouble aE = article<adouble, adouble>(ax, ax[9], ax[10], ax[11]);
        aE >>= E;
        trace_off();
        for (int k = 0; k < 9; k++) x[k] = w[k];
    }
    auto run = [&](size_t m, bool keep) {
        for (size_t i = 0; i < m; i++) {
            const double *s = &S[3 * i];
            if (reuse) {
                x[9] = s[0], x[10] = s[1], x[11] = s[2];
                zos_forward(tag, 1, 12, 1, x, &E);
                fos_reverse(tag, 1, 12, &u, g);
            } else {
                retape_one(s);
            }
            sum += E;
            for (int k = 0; k < 9; k++) sum += g[k];
            if (keep) {
                res[10 * i] = E;
                std::memcpy(&res[10 * i + 1], g, 9 * sizeof(double));
            }
        }
    };
    if (verify) {
        run(n, true);
        save(out, res);
        return 0;
    }
    run(n < 20000 ? n : 20000, false); // warm-up
    sum = 0;
    double t0 = now_ns();
    run(n, false);
    double t1 = now_ns();
    size_t st[STAT_SIZE];
    tapestats(tag, st);
    std::printf("unit sample\nn %zu\nns %.6g\nchecksum %.15g\nadolc_ops %zu\nvmhwm_kib %ld\n", n,
                (t1 - t0) / (double)n, sum, st[NUM_OPERATIONS], vmhwm_kib());
    return 0;
}

static int w2(bool verify, const char *out, size_t n)
{
    std::vector<double> x = load("w2_x.bin");
    if (n == 0 || n > x.size()) n = x.size();
    const short tag = 2;
    std::vector<double> g(n);
    double f;
    unsigned nn = (unsigned)n;
    double t0 = 0, t1 = 0, t2 = 0;
    for (int pass = 0; pass < (verify ? 1 : 2); pass++) { // pass 0 warms up, pass 1 is timed
        t0 = now_ns();
        // buffers big enough for the whole tape (~10 ops, ~23 locations, ~2 values and ~8
        // Taylors per term): it stays in memory
        trace_on(tag, 0, 16 * nn + 4096, 48 * nn + 4096, 8 * nn + 4096, 16 * nn + 4096);
        {
            std::vector<adouble> ax(n);
            for (size_t i = 0; i < n; i++) ax[i] <<= x[i];
            adouble af = 0.0;
            for (size_t i = 0; i + 1 < n; i++) {
                adouble d = ax[i + 1] - ax[i] * ax[i];
                adouble e = 1.0 - ax[i];
                af += 100.0 * (d * d) + e * e;
            }
            af >>= f;
        }
        trace_off();
        t1 = now_ns();
        gradient(tag, (int)n, x.data(), g.data());
        t2 = now_ns();
    }
    if (verify) {
        std::vector<double> o(n + 1);
        o[0] = f;
        std::memcpy(&o[1], g.data(), n * sizeof(double));
        save(out, o);
        return 0;
    }
    size_t st[STAT_SIZE];
    tapestats(tag, st);
    double sum = f;
    for (size_t i = 0; i < n; i++) sum += g[i];
    // ADOL-C's tape: 1 byte per operation code, a locint (4 B) per location, 8 B per value
    size_t bytes = st[NUM_OPERATIONS] * 1 + st[NUM_LOCATIONS] * sizeof(locint) +
                   st[NUM_VALUES] * sizeof(double);
    std::printf("unit gradient\nn %zu\nns %.6g\nchecksum %.15g\nrecord_ns %.6g\nbackward_ns %.6g\n"
                "ops %zu\nlocations %zu\nvalues %zu\ntape_bytes %zu\nvmhwm_kib %ld\n",
                n, t2 - t0, sum, t1 - t0, t2 - t1, st[NUM_OPERATIONS], st[NUM_LOCATIONS],
                st[NUM_VALUES], bytes, vmhwm_kib());
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        std::fprintf(stderr, "usage: adolc_peers DATADIR W1|W2 IMPL verify OUT | time [N]\n");
        return 2;
    }
    datadir = argv[1];
    const char *ck = std::getenv("TG_PEERS_CLOCK");
    if (ck && !std::strcmp(ck, "wall")) clk = CLOCK_MONOTONIC;
    bool verify = !std::strcmp(argv[4], "verify");
    if (verify && argc < 6) return 2;
    const char *out = verify ? argv[5] : nullptr;
    size_t n = !verify && argc > 5 ? (size_t)std::strtod(argv[5], nullptr) : 0;
    std::string w = argv[2], impl = argv[3];
    if (w == "W1" && (impl == "adolc-retape" || impl == "adolc-reuse"))
        return w1(impl == "adolc-reuse", verify, out, n ? n : 1000000);
    if (w == "W2" && impl == "adolc") return w2(verify, out, n);
    std::fprintf(stderr, "adolc_peers: unknown workload/implementation %s %s\n", argv[2], argv[3]);
    return 2;
}
