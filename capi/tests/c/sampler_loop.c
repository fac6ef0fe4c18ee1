/* ito's C API from C99, as a C engine (stable-diffusion.cpp's shape) would use it.
 *
 * usage: sampler_loop FIXTURE OUT
 *   FIXTURE  capi/tests/data/kdiffusion_dpmpp_2m.txt (k-diffusion 0.1.1.post1's trajectory)
 *   OUT      where to write the results' bits for the Rust harness (capi/tests/c_programs.rs),
 *            one line per case: a name, then each element's bits in hex.
 *
 * It checks itself what needs no Rust: the k-diffusion trajectory to float tolerance, the plan
 * tier's own loop against the sampler's bits, and every bad-input case (status code and a
 * message naming the argument). It exits non-zero on the first failure. Built with -Wall
 * -Wextra -Werror under AddressSanitizer and UndefinedBehaviorSanitizer by the harness. */

#include "ito.h"

#include <ctype.h>
#include <pthread.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;

#define CHECK(cond, ...)                                                   \
  do {                                                                     \
    if (!(cond)) {                                                         \
      fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                        \
      fprintf(stderr, "\n");                                               \
      failures++;                                                          \
    }                                                                      \
  } while (0)

#define OK(call)                                                           \
  do {                                                                     \
    int st_ = (call);                                                      \
    if (st_ != ITO_OK) {                                                   \
      fprintf(stderr, "%s:%d: %s returned %s: %s\n", __FILE__, __LINE__, #call, \
              ito_status_name(st_), ito_last_error());                     \
      exit(1);                                                             \
    }                                                                      \
  } while (0)

/* The analytic "network": data x0_i ~ N(mu_i, s_i^2), VE form x = x0 + sigma*eps, exact
 * denoiser D(x, sigma) = (s^2 x + sigma^2 mu)/(s^2 + sigma^2), in double. */
static double mu_of(size_t i) { return -1.5 + 0.2 * (double)(i % 16); }
static double s_of(size_t i) { return 0.3 + 0.05 * (double)(i % 16); }

static double denoise(size_t i, double x, double sigma) {
  double s = s_of(i), s2 = s * s, v = sigma * sigma;
  return (s2 * x + v * mu_of(i)) / (s2 + v);
}

/* sd.cpp's denoise callback: writes x0 at sigma (EDM form, alpha = 1). */
static int denoise_f32(void *user, const void *input, void *output, size_t len,
                       const ito_eval *at) {
  const float *x = (const float *)input;
  float *d = (float *)output;
  size_t i;
  int *calls = (int *)user;
  (*calls)++;
  for (i = 0; i < len; i++) d[i] = (float)denoise(i, (double)x[i], at->sigma / at->alpha);
  return 0;
}

static int stop_at_third(void *user, const void *input, void *output, size_t len,
                         const ito_eval *at) {
  return at->step == 2 ? 42 : denoise_f32(user, input, output, len, at);
}

/* A callback that calls back into its own sampler: refused (ITO_ERR_BUSY), no deadlock. */
struct reentry {
  ito_sampler *s;
  float *x;
  int busy;
};

static int reenter(void *user, const void *input, void *output, size_t len,
                   const ito_eval *at) {
  struct reentry *r = (struct reentry *)user;
  ito_eval ev;
  int more, calls = 0;
  if (ito_sampler_next_eval(r->s, r->x, len, &ev, &more) == ITO_ERR_BUSY) r->busy++;
  return denoise_f32(&calls, input, output, len, at);
}

static void write_bits(FILE *out, const char *name, const float *x, size_t n) {
  size_t i;
  fprintf(out, "%s", name);
  for (i = 0; i < n; i++) {
    uint32_t b;
    memcpy(&b, &x[i], sizeof b);
    fprintf(out, " %08x", (unsigned)b);
  }
  fprintf(out, "\n");
}

/* ---- the fixture ---- */

#define FIX_N 16
#define FIX_STEPS 10
static double fix_sigmas[FIX_STEPS + 1], fix_x[FIX_STEPS + 1][FIX_N];

static void read_record(FILE *f, const char *name, double *v, size_t n) {
  char word[64];
  size_t i;
  for (;;) {
    int c = fgetc(f);
    if (c == '#') {
      while (c != '\n' && c != EOF) c = fgetc(f);
      continue;
    }
    if (c == EOF) break;
    ungetc(c, f);
    break;
  }
  if (fscanf(f, "%63s", word) != 1 || strcmp(word, name) != 0) {
    fprintf(stderr, "fixture: expected record %s, found %s\n", name, word);
    exit(1);
  }
  for (i = 0; i < n; i++) {
    if (fscanf(f, "%lf", &v[i]) != 1) {
      fprintf(stderr, "fixture: record %s: value %zu missing\n", name, i);
      exit(1);
    }
  }
  while (fgetc(f) != '\n' && !feof(f)) {
  }
}

static void read_fixture(const char *path) {
  FILE *f = fopen(path, "r");
  double n, ignored[FIX_N];
  int k;
  char name[16];
  if (!f) {
    fprintf(stderr, "cannot open %s\n", path);
    exit(1);
  }
  read_record(f, "n", &n, 1);
  if (n != FIX_N) exit(1);
  read_record(f, "mu", ignored, FIX_N);
  read_record(f, "s", ignored, FIX_N);
  read_record(f, "sigmas", fix_sigmas, FIX_STEPS + 1);
  read_record(f, "x_init", fix_x[0], FIX_N);
  for (k = 1; k <= FIX_STEPS; k++) {
    snprintf(name, sizeof name, "x_%d", k);
    read_record(f, name, fix_x[k], FIX_N);
  }
  fclose(f);
}

/* A k-diffusion-style configuration: EDM schedule, the given sigmas (without the final 0,
 * which clean_end appends), a denoiser (x0) model. */
static void edm_config(ito_sampler_config *c, const char *solver, const double *sigmas,
                       size_t n_sigmas, size_t len) {
  OK(ito_sampler_config_init(c));
  c->solver = solver;
  c->prediction = ITO_PREDICTION_DATA;
  c->schedule = ITO_SCHEDULE_EDM;
  c->schedule_params[0] = 0.002;
  c->schedule_params[1] = 80.0;
  c->grid = ITO_GRID_TIMES;
  c->times = sigmas;
  c->n_times = n_sigmas;
  c->clean_end = 1;
  c->len = len;
  c->seed = 7;
}

/* k-diffusion's sample_dpmpp_2m, step by step, against ito's DPM-Solver++(2M). */
static void against_kdiffusion(void) {
  ito_sampler_config c;
  ito_sampler *s = NULL;
  ito_eval ev;
  float x[FIX_N], out[FIX_N];
  const void *input;
  int more, calls = 0;
  size_t i, step = 0;
  double worst = 0;
  edm_config(&c, "dpmpp-2m", fix_sigmas, FIX_STEPS, FIX_N);
  OK(ito_sampler_create(&c, NULL, &s));
  for (i = 0; i < FIX_N; i++) x[i] = (float)fix_x[0][i];
  for (;;) {
    OK(ito_sampler_next_eval(s, x, FIX_N, &ev, &more));
    if (!more) break;
    CHECK(ev.step == step && ev.stage == 0 && ev.on_stage == 0, "one evaluation per step");
    CHECK(fabs(ev.sigma - fix_sigmas[step]) <= 1e-12 * fix_sigmas[step], "sigma %g", ev.sigma);
    OK(ito_sampler_eval_input(s, x, FIX_N, &input));
    CHECK(input == (const void *)x, "the state is the input");
    denoise_f32(&calls, input, out, FIX_N, &ev);
    OK(ito_sampler_advance(s, x, FIX_N, out, FIX_N));
    step++;
    for (i = 0; i < FIX_N; i++) {
      double ref = fix_x[step][i], err = fabs((double)x[i] - ref) / (1.0 + fabs(ref));
      if (err > worst) worst = err;
    }
  }
  CHECK(step == FIX_STEPS, "%zu steps", step);
  /* f32 state, f64 reference: rounding of the state (|x| up to ~130 at the start) and of the
   * coefficients; a wrong update would be off by O(1). */
  CHECK(worst < 2e-6, "k-diffusion trajectory: worst relative error %g", worst);
  printf("k-diffusion 0.1.1.post1 sample_dpmpp_2m: %zu steps, worst relative error %.3g\n", step,
         worst);
  OK(ito_sampler_destroy(s));
}

/* The sd.cpp-shaped loop: the sampler draws the starting noise, then one callback per
 * evaluation. Writes the final state's bits. */
#define N 1003
static const double karras10[10] = {80.0, 42.415189318512671, 21.108676736193759,
                                    9.7223686980000926, 4.0953640337455012, 1.5460052093219393,
                                    0.51155813744062883, 0.14308327578598758,
                                    0.020435334553438746, 0.002};

static void run_solver(FILE *out, const char *solver, float *x) {
  ito_sampler_config c;
  ito_sampler *s = NULL;
  int calls = 0, st;
  char name[64];
  float *again = (float *)malloc(N * sizeof(float));
  edm_config(&c, solver, karras10, 10, N);
  OK(ito_sampler_create(&c, NULL, &s));
  OK(ito_sampler_reserve(s));
  OK(ito_sampler_init_noise(s, x, N));
  OK(ito_sampler_run(s, x, N, denoise_f32, &calls));
  CHECK(calls >= 10, "%s: %d model calls", solver, calls);
  snprintf(name, sizeof name, "run:%s", solver);
  write_bits(out, name, x, N);
  /* a finished run refuses to run again; reset starts it over: the same bits, and a run
   * stopped by its callback resumes where it stopped */
  st = ito_sampler_run(s, x, N, denoise_f32, &calls);
  CHECK(st == ITO_ERR_CONFIG, "%s: run after the end: %s", solver, ito_status_name(st));
  OK(ito_sampler_reset(s));
  OK(ito_sampler_init_noise(s, again, N));
  calls = 0;
  st = ito_sampler_run(s, again, N, stop_at_third, &calls);
  CHECK(st == ITO_ERR_CALLBACK, "%s: a stopped run: %s", solver, ito_status_name(st));
  CHECK(calls >= 2, "%s: the callback ran before it stopped (%d)", solver, calls);
  OK(ito_sampler_run(s, again, N, denoise_f32, &calls));
  CHECK(memcmp(again, x, N * sizeof(float)) == 0, "%s: reset, stopped and resumed: same bits",
        solver);
  free(again);
  OK(ito_sampler_destroy(s));
}

static void sde(FILE *out, ito_device *d, float *result);
static void pc(FILE *out, ito_device *d, float *result);

#ifdef ITO_TEST_EMULATION
/* Built with ito's `emulation` feature: a device handle whose passes run the CUDA kernels'
 * sources on the CPU (device pointers are host pointers). Not in the header. */
int ito_device_create_emulated(ito_device **out);

/* Every device code path of the C API: samplers, the plan's noise, raw kernels, the PC sampler
 * and a stepper on the device handle, equal to the host's bits; deferred non-finite reports. */
static void tree(FILE *out, ito_device *d, float *x, float *z);

static void emulated_device(const float *x_2m, const float *x_sde, const float *x_heun,
                            const float *x_sde_em, const float *x_pc, const float *x_tree,
                            const float *z_tree) {
  ito_device *d = NULL;
  ito_sampler_config c;
  ito_sampler *s = NULL;
  ito_plan *p = NULL;
  const char *solvers[3] = {"dpmpp-2m", "sde-dpmpp-2m", "heun"};
  const float *expect[3] = {x_2m, x_sde, x_heun};
  float *x = (float *)malloc(N * sizeof(float)), *y = (float *)malloc(N * sizeof(float));
  float em[N], pcx[1024];
  ito_tensor t;
  ito_eval ev;
  int i, calls = 0, more, flag = 0;
  OK(ito_device_create_emulated(&d));
  for (i = 0; i < 3; i++) {
    edm_config(&c, solvers[i], karras10, 10, N);
    OK(ito_sampler_create(&c, d, &s));
    OK(ito_sampler_reserve(s));
    OK(ito_sampler_init_noise(s, x, N));
    OK(ito_sampler_run(s, x, N, denoise_f32, &calls));
    CHECK(memcmp(x, expect[i], N * sizeof(float)) == 0, "%s on the device: the host's bits",
          solvers[i]);
    OK(ito_sampler_take_nonfinite(s, &flag));
    CHECK(flag == 0, "%s: no non-finite report", solvers[i]);
    OK(ito_sampler_destroy(s));
  }
  /* the plan's initial noise on the device equals the host's */
  edm_config(&c, "dpmpp-2m", karras10, 10, N);
  OK(ito_plan_create(&c, &p));
  t.data = x, t.len = N, t.dtype = ITO_DTYPE_F32;
  OK(ito_plan_init_noise(p, d, t));
  t.data = y;
  OK(ito_plan_init_noise(p, NULL, t));
  CHECK(memcmp(x, y, N * sizeof(float)) == 0, "plan noise on the device: the host's bits");
  OK(ito_plan_destroy(p));
  /* raw kernels */
  t.data = x;
  OK(ito_randn(d, t, 42, 1, 1000));
  t.data = y;
  OK(ito_randn(NULL, t, 42, 1, 1000));
  CHECK(memcmp(x, y, N * sizeof(float)) == 0, "randn on the device: the host's bits");
  sde(NULL, d, em);
  CHECK(memcmp(em, x_sde_em, sizeof em) == 0, "Euler-Maruyama on the device: the host's bits");
  pc(NULL, d, pcx);
  CHECK(memcmp(pcx, x_pc, sizeof pcx) == 0, "the PC sampler on the device: the host's bits");
  tree(NULL, d, x, y);
  CHECK(memcmp(x, x_tree, N * sizeof(float)) == 0, "tree noise on the device: the host's bits");
  CHECK(memcmp(y, z_tree, N * sizeof(float)) == 0, "a tree increment on the device: the host's");
  /* a NaN model output: the device pass goes on; the report waits for take_nonfinite */
  OK(ito_sampler_create(&c, d, &s));
  OK(ito_sampler_init_noise(s, x, N));
  OK(ito_sampler_next_eval(s, x, N, &ev, &more));
  memcpy(y, x, N * sizeof(float));
  y[7] = NAN;
  OK(ito_sampler_advance(s, x, N, y, N));
  OK(ito_sampler_take_nonfinite(s, &flag));
  CHECK(flag == 1, "the device's non-finite report");
  OK(ito_sampler_take_nonfinite(s, &flag));
  CHECK(flag == 0, "the report clears");
  OK(ito_sampler_destroy(s));
  OK(ito_device_synchronize(d));
  OK(ito_device_destroy(d));
  free(x);
  free(y);
  printf("emulated device: samplers, plan noise, raw kernels, stepper, PC, tree: the host's bits\n");
}
#endif

/* The sampler's own state buffer, f16 storage, a discrete grid's timesteps, the node table. */
static void sampler_queries(FILE *out) {
  ito_sampler_config c;
  ito_sampler *s = NULL;
  ito_node nodes[16];
  ito_eval ev;
  void *state = NULL;
  size_t count = 0, len = 0, steps = 0, i;
  uint32_t dtype = 9;
  int more, calls = 0;
  float x[N];
  uint16_t h[N];
  /* ito's own state: the same bits as the caller's x (run:dpmpp-2m) */
  edm_config(&c, "dpmpp-2m", karras10, 10, N);
  OK(ito_sampler_create(&c, NULL, &s));
  OK(ito_sampler_state(s, &state));
  OK(ito_sampler_init_noise(s, state, N));
  OK(ito_sampler_run(s, state, N, denoise_f32, &calls));
  memcpy(x, state, sizeof x);
  write_bits(out, "state:dpmpp-2m", x, N);
  OK(ito_sampler_info(s, &len, &dtype, &steps));
  CHECK(len == N && dtype == ITO_DTYPE_F32 && steps == 10, "info %zu %u %zu", len, dtype, steps);
  OK(ito_sampler_nodes(s, nodes, 16, &count));
  CHECK(count == 11 && nodes[0].sigma == 80.0 && nodes[10].sigma == 0.0 &&
            nodes[0].timestep == -1,
        "EDM nodes: %zu, sigma %g .. %g", count, nodes[0].sigma, nodes[10].sigma);
  OK(ito_sampler_destroy(s));

  /* f16 storage: the state and the model output in binary16; the model returns its input
   * (x0 = x: no half-precision arithmetic needed in C, the passes do it) */
  edm_config(&c, "dpmpp-2m", karras10, 10, N);
  c.dtype = ITO_DTYPE_F16;
  OK(ito_sampler_create(&c, NULL, &s));
  OK(ito_sampler_init_noise(s, h, N));
  for (;;) {
    uint16_t d[N];
    OK(ito_sampler_next_eval(s, h, N, &ev, &more));
    if (!more) break;
    memcpy(d, h, sizeof d);
    OK(ito_sampler_advance(s, h, N, d, N));
  }
  fprintf(out, "f16:dpmpp-2m");
  for (i = 0; i < N; i++) fprintf(out, " %04x", (unsigned)h[i]);
  fprintf(out, "\n");
  OK(ito_sampler_destroy(s));

  /* diffusers' discrete "leading" grid for DPM-Solver: 10 of 1000 training steps, offset 1 */
  OK(ito_sampler_config_init(&c));
  c.schedule = ITO_SCHEDULE_DISCRETE_SCALED_LINEAR;
  c.schedule_params[0] = 0.00085;
  c.schedule_params[1] = 0.012;
  c.schedule_params[2] = 1000;
  c.grid = ITO_GRID_DISCRETE_LEADING;
  c.steps = 10;
  c.steps_offset = 1;
  c.len = 64;
  OK(ito_sampler_create(&c, NULL, &s));
  OK(ito_sampler_nodes(s, nodes, 16, &count));
  CHECK(count == 11, "discrete nodes: %zu", count);
  for (i = 0; i < 10; i++)
    /* DPM-Solver's "leading" (diffusers 0.42.1): step ratio 1000 // (10 + 1) = 90 */
    CHECK(nodes[i].timestep == (int64_t)(901 - 90 * i), "timestep %zu: %lld", i,
          (long long)nodes[i].timestep);
  OK(ito_sampler_next_eval(s, x, 64, &ev, &more));
  CHECK(more && ev.timestep == 901, "the first evaluation's timestep: %lld",
        (long long)ev.timestep);
  OK(ito_sampler_destroy(s));
}

/* Threads: four threads run their own samplers at once (the same bits as one thread), then
 * two threads hammer one shared sampler: every call returns ITO_OK or ITO_ERR_BUSY. */
struct worker {
  const float *expect;
  ito_sampler *shared;
  int ok, busy, other;
};

static void *own_sampler(void *arg) {
  struct worker *w = (struct worker *)arg;
  ito_sampler_config c;
  ito_sampler *s = NULL;
  int calls = 0;
  float *x = (float *)malloc(N * sizeof(float));
  edm_config(&c, "sde-dpmpp-2m", karras10, 10, N);
  if (ito_sampler_create(&c, NULL, &s) == ITO_OK && ito_sampler_init_noise(s, x, N) == ITO_OK &&
      ito_sampler_run(s, x, N, denoise_f32, &calls) == ITO_OK)
    w->ok = memcmp(x, w->expect, N * sizeof(float)) == 0;
  ito_sampler_destroy(s);
  free(x);
  return NULL;
}

static void *shared_sampler(void *arg) {
  struct worker *w = (struct worker *)arg;
  float *x = (float *)calloc(N, sizeof(float));
  ito_eval ev;
  int k, more;
  for (k = 0; k < 2000; k++) {
    int st = ito_sampler_next_eval(w->shared, x, N, &ev, &more);
    if (st == ITO_OK) w->ok++;
    else if (st == ITO_ERR_BUSY) w->busy++;
    else w->other++;
  }
  free(x);
  return NULL;
}

static void threads(const float *x_sde) {
  pthread_t t[4];
  struct worker w[4];
  ito_sampler_config c;
  int i, ok = 0, calls = 0, other = 0;
  memset(w, 0, sizeof w);
  for (i = 0; i < 4; i++) {
    w[i].expect = x_sde;
    pthread_create(&t[i], NULL, own_sampler, &w[i]);
  }
  for (i = 0; i < 4; i++) {
    pthread_join(t[i], NULL);
    ok += w[i].ok;
  }
  CHECK(ok == 4, "4 threads, 4 samplers: the same bits as one thread (%d of 4)", ok);
  edm_config(&c, "dpmpp-2m", karras10, 10, N);
  memset(w, 0, sizeof w);
  OK(ito_sampler_create(&c, NULL, &w[0].shared));
  w[1].shared = w[0].shared;
  for (i = 0; i < 2; i++) pthread_create(&t[i], NULL, shared_sampler, &w[i]);
  for (i = 0; i < 2; i++) {
    pthread_join(t[i], NULL);
    calls += w[i].ok + w[i].busy;
    other += w[i].other;
  }
  CHECK(calls == 4000 && other == 0, "a shared sampler: OK or BUSY only (%d, %d other)", calls,
        other);
  OK(ito_sampler_destroy(w[0].shared));
}

/* The same solver through the plan tier: the engine's own buffers and ito_lincomb. */
static void plan_loop(FILE *out, const char *solver, const float *expect) {
  ito_sampler_config c;
  ito_plan *p = NULL;
  ito_plan_call call;
  ito_eval ev;
  int more, has;
  size_t i, j;
  float *buf[4 + ITO_HISTORY];
  ito_tensor t[4 + ITO_HISTORY];
  char name[64];
  edm_config(&c, solver, karras10, 10, N);
  OK(ito_plan_create(&c, &p));
  for (j = 0; j < 4 + ITO_HISTORY; j++) {
    buf[j] = (float *)calloc(N, sizeof(float));
    t[j].data = buf[j];
    t[j].len = N;
    t[j].dtype = ITO_DTYPE_F32;
  }
  /* buf[slot] for slot = ITO_SLOT_STATE, _MODEL, _MEAN (unused), _STAGE, _HISTORY_0 + j */
  OK(ito_plan_init_noise(p, NULL, t[ITO_SLOT_STATE])); /* as ito_sampler_init_noise */
  OK(ito_plan_init_call(p, &call, &has));
  CHECK(!has, "%s: no initial churn", solver);
  for (;;) {
    const float *in;
    ito_tensor ins[ITO_MAX_INPUTS];
    OK(ito_plan_next_eval(p, &ev, &more));
    if (!more) break;
    in = ev.on_stage ? buf[ITO_SLOT_STAGE] : buf[ITO_SLOT_STATE];
    for (i = 0; i < N; i++)
      buf[ITO_SLOT_MODEL][i] = (float)denoise(i, (double)in[i], ev.sigma / ev.alpha);
    OK(ito_plan_advance(p, &call));
    for (j = 0; j < call.n_inputs; j++) ins[j] = t[call.inputs[j]];
    OK(ito_lincomb(NULL, t[call.out], call.store == ITO_SLOT_NONE ? NULL : &t[call.store], ins,
                   call.n_inputs, &call.coefs, call.has_noise ? &call.noise : NULL));
  }
  CHECK(memcmp(buf[ITO_SLOT_STATE], expect, N * sizeof(float)) == 0,
        "%s: the plan tier's loop equals the sampler bit for bit", solver);
  snprintf(name, sizeof name, "plan:%s", solver);
  write_bits(out, name, buf[ITO_SLOT_STATE], N);
  for (j = 0; j < 4 + ITO_HISTORY; j++) free(buf[j]);
  OK(ito_plan_destroy(p));
}

/* Ornstein-Uhlenbeck by Euler-Maruyama, dX = -X dt + 0.5 dW, 100 steps: the bits. */
static void sde(FILE *out, ito_device *d, float *result) {
  float x[N], f[N], g[N];
  ito_noise_source src;
  ito_tensor tx, tf, tg;
  size_t i;
  uint32_t k;
  src.seed = 11;
  src.stream = 3;
  src.offset = 0;
  for (i = 0; i < N; i++) {
    x[i] = 1.0f;
    g[i] = 0.5f;
  }
  tx.data = x, tx.len = N, tx.dtype = ITO_DTYPE_F32;
  tf.data = f, tf.len = N, tf.dtype = ITO_DTYPE_F32;
  tg.data = g, tg.len = N, tg.dtype = ITO_DTYPE_F32;
  for (k = 0; k < 100; k++) {
    for (i = 0; i < N; i++) f[i] = -x[i];
    OK(ito_euler_maruyama(d, tx, tf, tg, 0.01, &src, k));
  }
  if (out) write_bits(out, "sde:euler_maruyama", x, N);
  memcpy(result, x, sizeof x);
}

/* Scalar noise: one Brownian motion per sample (17 samples of 59 elements). */
static void sde_scalar(FILE *out) {
  float x[N], f[N], g[N];
  ito_noise_source src;
  ito_tensor tx, tf, tg;
  size_t i;
  uint32_t k;
  src.seed = 12;
  src.stream = 0;
  src.offset = 59 * 4;
  for (i = 0; i < N; i++) {
    x[i] = (float)(i % 7) * 0.25f;
    g[i] = 0.5f;
  }
  tx.data = x, tx.len = N, tx.dtype = ITO_DTYPE_F32;
  tf.data = f, tf.len = N, tf.dtype = ITO_DTYPE_F32;
  tg.data = g, tg.len = N, tg.dtype = ITO_DTYPE_F32;
  for (k = 0; k < 20; k++) {
    for (i = 0; i < N; i++) f[i] = -x[i];
    OK(ito_euler_maruyama_scalar_noise(NULL, tx, tf, tg, 0.05, &src, k, 59));
  }
  write_bits(out, "sde:euler_maruyama_scalar_noise", x, N);
}

/* score-SDE's PC sampler (VE, Euler-Maruyama predictor, one Langevin step), data N(0, 1):
 * score = -x/(1 + sigma^2), sigma(t) = sigma_min (sigma_max/sigma_min)^t. */
static void pc(FILE *out, ito_device *d, float *result) {
  ito_pc_config c;
  ito_pc *p = NULL;
  ito_pc_eval ev;
  const void *state;
  float score[1024];
  int more;
  size_t i;
  OK(ito_pc_config_init(&c));
  c.schedule = ITO_SCHEDULE_VE;
  c.schedule_params[0] = 0.01;
  c.schedule_params[1] = 50.0;
  c.steps = 50;
  c.predictor = ITO_PREDICTOR_EULER_MARUYAMA;
  c.len = 1024;
  c.sample_len = 256;
  c.seed = 5;
  OK(ito_pc_create(&c, d, &p));
  OK(ito_pc_state(p, &state));
  for (;;) {
    const float *x = (const float *)state;
    double sigma;
    OK(ito_pc_next_eval(p, &ev, &more));
    if (!more) break;
    sigma = 0.01 * pow(50.0 / 0.01, ev.t);
    for (i = 0; i < 1024; i++) score[i] = (float)(-(double)x[i] / (1.0 + sigma * sigma));
    OK(ito_pc_advance(p, score, 1024));
  }
  if (out) write_bits(out, "pc:ve", (const float *)state, 1024);
  memcpy(result, state, 1024 * sizeof(float));
  OK(ito_pc_destroy(p));
}

static void noise(FILE *out) {
  float z[N];
  ito_tensor t;
  t.data = z, t.len = N, t.dtype = ITO_DTYPE_F32;
  OK(ito_randn(NULL, t, 42, 1, 1000));
  write_bits(out, "randn:42:1:1000", z, N);
}

static int names_arg(const char *msg, const char *arg);

/* Fractional noise (H = 0.3, K = 4): B-hat summed from 50 steps' increments; bad input. */
static void fbm(FILE *out) {
  ito_fbm f;
  ito_fbm_transition tr;
  ito_noise_source src;
  ito_tensor st, ot;
  float *state = (float *)calloc(4 * N, sizeof(float));
  float inc[N], acc[N];
  uint32_t k;
  size_t i;
  int s;
  OK(ito_fbm_init(&f, 0.3, 4, 20.0, 1.0, 0.0));
  CHECK(f.k == 4 && f.relative_error > 0 && f.relative_error < 0.05, "fbm: K %zu, error %g",
        f.k, f.relative_error);
  OK(ito_fbm_transition_init(&f, 0.01, &tr));
  src.seed = 13, src.stream = 1, src.offset = 0;
  st.data = state, st.len = 4 * N, st.dtype = ITO_DTYPE_F32;
  ot.data = inc, ot.len = N, ot.dtype = ITO_DTYPE_F32;
  for (i = 0; i < N; i++) acc[i] = 0.0f;
  for (k = 0; k < 50; k++) {
    OK(ito_fbm_step(&tr, st, ot, &src, k));
    for (i = 0; i < N; i++) acc[i] += inc[i];
  }
  write_bits(out, "fbm:0.3", acc, N);
  s = ito_fbm_init(&f, 0.3, 0, 20.0, 1.0, 0.0);
  CHECK(s == ITO_ERR_ARGUMENT && names_arg(ito_last_error(), "k"), "fbm k: %s", ito_last_error());
  s = ito_fbm_transition_init(&f, 0.0, &tr);
  CHECK(s == ITO_ERR_CONFIG && names_arg(ito_last_error(), "h"), "fbm h: %s", ito_last_error());
  s = ito_fbm_step(NULL, st, ot, &src, 0);
  CHECK(s == ITO_ERR_NULL && names_arg(ito_last_error(), "transition"), "fbm NULL: %s",
        ito_last_error());
  OK(ito_fbm_transition_init(&f, 0.01, &tr));
  ot.data = state + 8;
  s = ito_fbm_step(&tr, st, ot, &src, 0);
  CHECK(s == ITO_ERR_ARGUMENT && names_arg(ito_last_error(), "out"), "fbm overlap: %s",
        ito_last_error());
  st.len = 4 * N - 1;
  ot.data = NULL;
  s = ito_fbm_step(&tr, st, ot, &src, 0);
  CHECK(s == ITO_ERR_ARGUMENT && names_arg(ito_last_error(), "state"), "fbm planes: %s",
        ito_last_error());
  free(state);
}

/* SDE-DPM-Solver++(2M) handed, step by step, the normals its counter draws (as an engine hands
 * the normals of its own generator): the counter's run to the bit. */
static void given_noise(const float *x_sde) {
  ito_sampler_config c;
  ito_sampler *s = NULL;
  ito_noise_source src;
  ito_noise at;
  ito_eval ev;
  ito_tensor zt;
  const void *input;
  float x[N], out[N], z[N];
  int more, calls = 0, st;
  edm_config(&c, "sde-dpmpp-2m", karras10, 10, N);
  OK(ito_sampler_create(&c, NULL, &s));
  OK(ito_sampler_init_noise(s, x, N));
  src.seed = 7, src.stream = 0, src.offset = 0;
  zt.data = z, zt.len = N, zt.dtype = ITO_DTYPE_F32;
  for (;;) {
    OK(ito_sampler_next_eval(s, x, N, &ev, &more));
    if (!more) break;
    OK(ito_sampler_eval_input(s, x, N, &input));
    denoise_f32(&calls, input, out, N, &ev);
    OK(ito_noise_address(&src, ITO_NOISE_STEP, (uint32_t)ev.step, N, &at));
    OK(ito_fill_normal(NULL, zt, 0.0f, 1.0f, &at));
    OK(ito_sampler_advance_noise(s, x, N, out, N, z, N));
  }
  CHECK(memcmp(x, x_sde, sizeof x) == 0, "given normals: the counter's bits");
  OK(ito_sampler_reset(s));
  OK(ito_sampler_next_eval(s, x, N, &ev, &more));
  st = ito_sampler_advance_noise(s, x, N, out, N, NULL, N);
  CHECK(st == ITO_ERR_NULL && names_arg(ito_last_error(), "noise"), "NULL noise: %s",
        ito_last_error());
  st = ito_sampler_advance_noise(s, x, N, out, N, z, N - 1);
  CHECK(st == ITO_ERR_ARGUMENT && names_arg(ito_last_error(), "noise"), "short noise: %s",
        ito_last_error());
  st = ito_sampler_advance_noise(s, x, N, out, N, x, N);
  CHECK(st == ITO_ERR_ARGUMENT && names_arg(ito_last_error(), "noise"), "noise on x: %s",
        ito_last_error());
  OK(ito_sampler_destroy(s));
}

/* A sampler drawing its step noise from a Brownian tree over k-diffusion's sigma range, and
 * one increment of that tree, on host memory (`d` NULL: written to `out`, then bad trees) or
 * on a device handle; the results go to `x` and `z`. */
static void tree(FILE *out, ito_device *d, float *x, float *z) {
  ito_sampler_config c;
  ito_sampler *s = NULL;
  ito_brownian_tree t;
  ito_tensor y;
  int calls = 0, st;
  OK(ito_brownian_tree_init(&t, 9, 2, 0.002, 80.0, 1e-6));
  CHECK(t.depth == 27, "tol 1e-6 over [0.002, 80]: depth %u", t.depth);
  edm_config(&c, "sde-dpmpp-2m", karras10, 10, N);
  c.noise_tree = t;
  OK(ito_sampler_create(&c, d, &s));
  OK(ito_sampler_init_noise(s, x, N));
  OK(ito_sampler_run(s, x, N, denoise_f32, &calls));
  OK(ito_sampler_destroy(s));
  t.offset = 1000;
  y.data = z, y.len = N, y.dtype = ITO_DTYPE_F32;
  OK(ito_brownian_increment(d, &t, 0.3, 7.0, 0.5, y));
  if (d) {
    OK(ito_device_synchronize(d));
    return;
  }
  write_bits(out, "tree:sde-dpmpp-2m", x, N);
  write_bits(out, "tree:increment", z, N);
  /* bad trees: reversed times, a time outside the span, a span the grid leaves */
  st = ito_brownian_increment(NULL, &t, 7.0, 0.3, 1.0, y);
  CHECK(st == ITO_ERR_CONFIG && strstr(ito_last_error(), "s ≤ t"), "reversed: %s",
        ito_last_error());
  st = ito_brownian_increment(NULL, &t, 0.3, 90.0, 1.0, y);
  CHECK(st == ITO_ERR_CONFIG && names_arg(ito_last_error(), "t"), "outside: %s",
        ito_last_error());
  st = ito_brownian_increment(NULL, NULL, 0.3, 7.0, 1.0, y);
  CHECK(st == ITO_ERR_NULL && names_arg(ito_last_error(), "tree"), "NULL: %s", ito_last_error());
  st = ito_brownian_tree_init(&t, 9, 2, 1.0, 0.5, 0.0);
  CHECK(st == ITO_ERR_CONFIG && names_arg(ito_last_error(), "t1"), "span: %s", ito_last_error());
  OK(ito_brownian_tree_init(&t, 9, 2, 1.0, 80.0, 0.0));
  CHECK(t.depth == 20, "default depth %u", t.depth);
  c.noise_tree = t;
  st = ito_sampler_create(&c, NULL, &s);
  CHECK(st == ITO_ERR_CONFIG && names_arg(ito_last_error(), "noise_tree"), "span: %s",
        ito_last_error());
  c.noise_tree.depth = 40;
  st = ito_sampler_create(&c, NULL, &s);
  CHECK(st == ITO_ERR_CONFIG && names_arg(ito_last_error(), "noise_tree") &&
            names_arg(ito_last_error(), "depth"),
        "depth: %s", ito_last_error());
}

/* Whether a message names argument `arg`: it starts with it (`x: ...`, `inputs[0].dtype: ...`),
 * names it as a configuration field (`config->arg`), or quotes it (ito's `arg`). */
static int is_ident(char c) { return isalnum((unsigned char)c) || c == '_'; }

static int names_arg(const char *msg, const char *arg) {
  size_t n = strlen(arg);
  char quoted[96];
  const char *p;
  if (strncmp(msg, arg, n) == 0 && !is_ident(msg[n])) return 1;
  snprintf(quoted, sizeof quoted, "`%s`", arg);
  if (strstr(msg, quoted)) return 1;
  for (p = strstr(msg, "->"); p; p = strstr(p + 2, "->"))
    if (strncmp(p + 2, arg, n) == 0 && !is_ident(p[2 + n])) return 1;
  return 0;
}

/* Bad input: a status code, and a message that names the argument. */
#define EXPECT(call, code, arg)                                                          \
  do {                                                                                   \
    int st_ = (call);                                                                    \
    CHECK(st_ == (code), "%s: %s, expected %s (%s)", #call, ito_status_name(st_), #code, \
          ito_last_error());                                                             \
    CHECK(names_arg(ito_last_error(), arg), "%s: message \"%s\" names %s", #call,        \
          ito_last_error(), arg);                                                        \
  } while (0)

static void bad_input(void) {
  ito_sampler_config c;
  ito_sampler *s = NULL, *dead = NULL;
  ito_device *d = NULL;
  ito_eval ev;
  int more, st;
  float x[64], y[64];
  ito_tensor t;
  ito_noise z;
  ito_lincomb_coefs k;
  const void *in;
  memset(&k, 0, sizeof k);
  memset(&z, 0, sizeof z);
  memset(x, 0, sizeof x);
  memset(y, 0, sizeof y);

  EXPECT(ito_sampler_config_init(NULL), ITO_ERR_NULL, "config");
  EXPECT(ito_sampler_create(NULL, NULL, &s), ITO_ERR_NULL, "config");
  edm_config(&c, "dpmpp-2m", karras10, 10, 64);
  EXPECT(ito_sampler_create(&c, NULL, NULL), ITO_ERR_NULL, "out");

  c.solver = "dpmpp-9m";
  EXPECT(ito_sampler_create(&c, NULL, &s), ITO_ERR_CONFIG, "solver");
  c.solver = NULL;
  EXPECT(ito_sampler_create(&c, NULL, &s), ITO_ERR_NULL, "solver");
  c.solver = "dpmpp-2m";
  c.struct_size = sizeof c - 8;
  EXPECT(ito_sampler_create(&c, NULL, &s), ITO_ERR_STRUCT_SIZE, "struct_size");
  c.struct_size = sizeof c;
  c.len = 0;
  EXPECT(ito_sampler_create(&c, NULL, &s), ITO_ERR_CONFIG, "len");
  c.len = 64;
  c.dtype = 9;
  EXPECT(ito_sampler_create(&c, NULL, &s), ITO_ERR_CONFIG, "dtype");
  c.dtype = ITO_DTYPE_F32;
  c.schedule_params[0] = -1.0;
  EXPECT(ito_sampler_create(&c, NULL, &s), ITO_ERR_CONFIG, "sigma_min");
  c.schedule_params[0] = 0.002;
  c.times = NULL;
  EXPECT(ito_sampler_create(&c, NULL, &s), ITO_ERR_NULL, "times");
  c.times = karras10;
  c.threshold_ratio = 1.5;
  EXPECT(ito_sampler_create(&c, NULL, &s), ITO_ERR_CONFIG, "threshold_ratio");
  c.threshold_ratio = 0.0;

  OK(ito_sampler_create(&c, NULL, &s));
  EXPECT(ito_sampler_init_noise(s, x, 63), ITO_ERR_ARGUMENT, "x");
  EXPECT(ito_sampler_init_noise(s, NULL, 64), ITO_ERR_NULL, "x");
  EXPECT(ito_sampler_init_noise(s, (char *)x + 1, 64), ITO_ERR_ARGUMENT, "x");
  EXPECT(ito_sampler_next_eval(s, x, 64, NULL, &more), ITO_ERR_NULL, "eval");
  EXPECT(ito_sampler_next_eval(s, x, 64, &ev, NULL), ITO_ERR_NULL, "more");
  EXPECT(ito_sampler_eval_input(s, x, 64, NULL), ITO_ERR_NULL, "input");
  EXPECT(ito_sampler_advance(s, x, 64, y, 32), ITO_ERR_ARGUMENT, "model_out");
  EXPECT(ito_sampler_advance(s, x, 64, x + 8, 56 + 8), ITO_ERR_ARGUMENT, "model_out");
  EXPECT(ito_sampler_advance(s, x, 64, x + 8, 56), ITO_ERR_ARGUMENT, "model_out");
  EXPECT(ito_sampler_run(s, x, 64, NULL, NULL), ITO_ERR_NULL, "model");
  /* the handle's own message equals the thread's */
  CHECK(strcmp(ito_sampler_last_error(s), ito_last_error()) == 0, "per-handle message");
  /* a callback that stops the run */
  {
    int calls = 0;
    EXPECT(ito_sampler_run(s, x, 64, stop_at_third, &calls), ITO_ERR_CALLBACK, "model");
  }
  /* a callback calling its own sampler: ITO_ERR_BUSY inside, the run completes */
  {
    struct reentry r;
    ito_sampler *s3 = NULL;
    r.x = x;
    r.busy = 0;
    OK(ito_sampler_create(&c, NULL, &s3));
    r.s = s3;
    OK(ito_sampler_run(s3, x, 64, reenter, &r));
    CHECK(r.busy >= 10, "re-entry refused with ITO_ERR_BUSY each time (%d)", r.busy);
    OK(ito_sampler_destroy(s3));
  }
  /* the sampler's own stage pointer handed back as the model output: refused, no aliasing */
  {
    ito_sampler *s4 = NULL;
    ito_sampler_config c2 = c;
    const void *stage = NULL;
    int k;
    c2.solver = "heun";
    OK(ito_sampler_create(&c2, NULL, &s4));
    OK(ito_sampler_init_noise(s4, x, 64));
    for (k = 0; k < 2; k++) { /* the second evaluation of a Heun step is on the stage */
      OK(ito_sampler_next_eval(s4, x, 64, &ev, &more));
      OK(ito_sampler_eval_input(s4, x, 64, &stage));
      if (ev.on_stage) break;
      OK(ito_sampler_advance(s4, x, 64, y, 64));
    }
    CHECK(ev.on_stage && stage != (const void *)x, "heun evaluates on its stage buffer");
    EXPECT(ito_sampler_advance(s4, x, 64, stage, 64), ITO_ERR_ARGUMENT, "model_out");
    EXPECT(ito_sampler_advance(s4, (void *)(uintptr_t)stage, 64, y, 64), ITO_ERR_ARGUMENT, "x");
    OK(ito_sampler_destroy(s4));
  }
  /* non-finite model output: reported after the step, naming the buffer */
  {
    ito_sampler *s2 = NULL;
    OK(ito_sampler_create(&c, NULL, &s2));
    OK(ito_sampler_next_eval(s2, x, 64, &ev, &more));
    y[5] = NAN;
    EXPECT(ito_sampler_advance(s2, x, 64, y, 64), ITO_ERR_NONFINITE, "x");
    y[5] = 0;
    OK(ito_sampler_destroy(s2));
  }
  OK(ito_sampler_eval_input(s, x, 64, &in));
  dead = s;
  OK(ito_sampler_destroy(s));
  EXPECT(ito_sampler_next_eval(dead, x, 64, &ev, &more), ITO_ERR_HANDLE, "ito_sampler");
  EXPECT(ito_sampler_destroy(dead), ITO_ERR_HANDLE, "ito_sampler");
  CHECK(strcmp(ito_sampler_last_error(dead), "") == 0, "a dead handle has no message");
  OK(ito_sampler_destroy(NULL));
  /* a handle of another kind */
  EXPECT(ito_plan_destroy((ito_plan *)(void *)&c), ITO_ERR_HANDLE, "ito_plan");

  /* raw kernels */
  t.data = x, t.len = 64, t.dtype = ITO_DTYPE_F32;
  EXPECT(ito_lincomb(NULL, t, NULL, NULL, 1, &k, NULL), ITO_ERR_NULL, "inputs");
  EXPECT(ito_lincomb(NULL, t, NULL, NULL, 0, NULL, NULL), ITO_ERR_NULL, "coefs");
  EXPECT(ito_lincomb(NULL, t, NULL, &t, 1, &k, NULL), ITO_ERR_ARGUMENT, "inputs[0]");
  EXPECT(ito_lincomb(NULL, t, NULL, &t, 7, &k, NULL), ITO_ERR_ARGUMENT, "n_inputs");
  {
    ito_tensor u = t;
    u.data = y;
    u.len = 60;
    EXPECT(ito_lincomb(NULL, t, NULL, &u, 1, &k, NULL), ITO_ERR_ARGUMENT, "inputs[0]");
    u.len = 64;
    u.dtype = 3;
    EXPECT(ito_lincomb(NULL, t, NULL, &u, 1, &k, NULL), ITO_ERR_ARGUMENT, "inputs[0].dtype");
  }
  EXPECT(ito_fill_normal(NULL, t, 0.0f, 1.0f, NULL), ITO_ERR_NULL, "noise");
  z.offset = UINT64_MAX - 10;
  EXPECT(ito_fill_normal(NULL, t, 0.0f, 1.0f, &z), ITO_ERR_ARGUMENT, "noise.offset");
  EXPECT(ito_euler_maruyama(NULL, t, t, t, 0.01, NULL, 0), ITO_ERR_NULL, "noise");
  {
    ito_noise_source src;
    float w[64] = {0};
    ito_tensor tf = t, tg = t;
    memset(&src, 0, sizeof src);
    tf.data = y;
    tg.data = w;
    EXPECT(ito_euler_maruyama_scalar_noise(NULL, t, tf, tg, 0.01, &src, 0, 5), ITO_ERR_CONFIG,
           "sample_len");
  }

  /* CUDA: without a GPU (or a driver) a typed error, never a crash */
  st = ito_device_create_cuda(0, NULL, &d);
  if (st == ITO_OK) {
    printf("CUDA device found: device tests belong to the GPU kit\n");
    OK(ito_device_destroy(d));
  } else {
    CHECK(st == ITO_ERR_UNAVAILABLE || st == ITO_ERR_CUDA, "no device: %s",
          ito_status_name(st));
    CHECK(strlen(ito_last_error()) > 0, "a message");
  }
  EXPECT(ito_device_create_cuda(-1, NULL, &d), ITO_ERR_ARGUMENT, "ordinal");
}

int main(int argc, char **argv) {
  FILE *out;
  float x_2m[N], x_sde[N], x_ea[N], x_heun[N], x_2s[N], x_em[N], x_pc[1024], x_tree[N],
      z_tree[N];
  if (argc != 3) {
    fprintf(stderr, "usage: %s FIXTURE OUT\n", argv[0]);
    return 2;
  }
  CHECK(ito_version() == ITO_VERSION, "library %u, header %u", ito_version(), ITO_VERSION);
  read_fixture(argv[1]);
  out = fopen(argv[2], "w");
  if (!out) return 2;
  against_kdiffusion();
  run_solver(out, "dpmpp-2m", x_2m);
  run_solver(out, "sde-dpmpp-2m", x_sde);
  run_solver(out, "euler-a", x_ea);
  run_solver(out, "heun", x_heun);
  run_solver(out, "dpmpp-2s", x_2s);
  plan_loop(out, "dpmpp-2m", x_2m);
  plan_loop(out, "sde-dpmpp-2m", x_sde);
  plan_loop(out, "euler-a", x_ea);
  plan_loop(out, "heun", x_heun);
  plan_loop(out, "dpmpp-2s", x_2s);
  sampler_queries(out);
  threads(x_sde);
  sde(out, NULL, x_em);
  sde_scalar(out);
  pc(out, NULL, x_pc);
  noise(out);
  tree(out, NULL, x_tree, z_tree);
  given_noise(x_sde);
  fbm(out);
  bad_input();
#ifdef ITO_TEST_EMULATION
  emulated_device(x_2m, x_sde, x_heun, x_em, x_pc, x_tree, z_tree);
#endif
  fclose(out);
  if (failures) {
    fprintf(stderr, "%d checks failed\n", failures);
    return 1;
  }
  printf("all checks passed\n");
  return 0;
}
