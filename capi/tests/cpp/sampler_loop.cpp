// ito's C API from C++17, as a C++ engine would wrap it: handles owned by unique_ptr, the
// model as a lambda behind the C callback, errors as exceptions.
//
// usage: sampler_loop_cpp OUT — writes the final state's bits of the same k-diffusion-style
// runs as tests/c/sampler_loop.c ("run:<solver>" lines), which the Rust harness compares with
// the Rust API. Built with -Wall -Wextra -Werror under ASan and UBSan by the harness.

#include "ito.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

void check(int status, const char *what) {
  if (status != ITO_OK)
    throw std::runtime_error(std::string(what) + ": " + ito_status_name(status) + ": " +
                             ito_last_error());
}

struct SamplerDeleter {
  void operator()(ito_sampler *s) const noexcept { ito_sampler_destroy(s); }
};
using Sampler = std::unique_ptr<ito_sampler, SamplerDeleter>;

constexpr std::size_t kN = 1003;
constexpr double kSigmas[10] = {80.0, 42.415189318512671, 21.108676736193759,
                                9.7223686980000926, 4.0953640337455012, 1.5460052093219393,
                                0.51155813744062883, 0.14308327578598758,
                                0.020435334553438746, 0.002};

double denoise(std::size_t i, double x, double sigma) {
  const double mu = -1.5 + 0.2 * static_cast<double>(i % 16);
  const double s = 0.3 + 0.05 * static_cast<double>(i % 16);
  return (s * s * x + sigma * sigma * mu) / (s * s + sigma * sigma);
}

// The engine's model, any callable; ito sees a C function and a context pointer.
template <class F>
int trampoline(void *user, const void *input, void *output, std::size_t len,
               const ito_eval *at) {
  try {
    return (*static_cast<F *>(user))(static_cast<const float *>(input),
                                     static_cast<float *>(output), len, *at);
  } catch (...) {
    return 1;  // no exception crosses into ito
  }
}

Sampler make_sampler(const char *solver) {
  ito_sampler_config c;
  check(ito_sampler_config_init(&c), "config_init");
  c.solver = solver;
  c.prediction = ITO_PREDICTION_DATA;
  c.schedule = ITO_SCHEDULE_EDM;
  c.schedule_params[0] = 0.002;
  c.schedule_params[1] = 80.0;
  c.grid = ITO_GRID_TIMES;
  c.times = kSigmas;
  c.n_times = 10;
  c.clean_end = 1;
  c.len = kN;
  c.seed = 7;
  ito_sampler *raw = nullptr;
  check(ito_sampler_create(&c, nullptr, &raw), solver);
  return Sampler(raw);
}

std::vector<float> run(const char *solver) {
  Sampler s = make_sampler(solver);
  std::vector<float> x(kN);
  int calls = 0;
  auto model = [&calls](const float *in, float *out, std::size_t len, const ito_eval &at) {
    ++calls;
    for (std::size_t i = 0; i < len; ++i)
      out[i] = static_cast<float>(denoise(i, static_cast<double>(in[i]), at.sigma / at.alpha));
    return 0;
  };
  check(ito_sampler_reserve(s.get()), "reserve");
  check(ito_sampler_init_noise(s.get(), x.data(), x.size()), "init_noise");
  check(ito_sampler_run(s.get(), x.data(), x.size(), &trampoline<decltype(model)>, &model),
        "run");
  if (calls < 10) throw std::runtime_error("too few model calls");
  return x;
}

}  // namespace

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT\n", argv[0]);
    return 2;
  }
  try {
    std::FILE *out = std::fopen(argv[1], "w");
    if (!out) return 2;
    for (const char *solver : {"dpmpp-2m", "sde-dpmpp-2m", "euler-a"}) {
      std::vector<float> x = run(solver);
      std::fprintf(out, "run:%s", solver);
      for (float v : x) {
        std::uint32_t b;
        std::memcpy(&b, &v, sizeof b);
        std::fprintf(out, " %08x", static_cast<unsigned>(b));
      }
      std::fprintf(out, "\n");
    }
    std::fclose(out);

    // Misuse from C++: a throwing model stops the run with ITO_ERR_CALLBACK; a destroyed
    // handle is refused; a wrong struct size is refused.
    Sampler s = make_sampler("euler-a");
    std::vector<float> x(kN);
    auto throwing = [](const float *, float *, std::size_t, const ito_eval &) -> int {
      throw std::runtime_error("model failed");
    };
    if (ito_sampler_run(s.get(), x.data(), x.size(), &trampoline<decltype(throwing)>,
                        &throwing) != ITO_ERR_CALLBACK)
      throw std::runtime_error("a failing model must stop the run");
    ito_sampler *dead = s.release();
    check(ito_sampler_destroy(dead), "destroy");
    ito_eval ev;
    int more = 0;
    if (ito_sampler_next_eval(dead, x.data(), x.size(), &ev, &more) != ITO_ERR_HANDLE)
      throw std::runtime_error("a destroyed handle must be refused");
    ito_sampler_config c;
    check(ito_sampler_config_init(&c), "config_init");
    c.struct_size = 8;
    ito_sampler *none = nullptr;
    if (ito_sampler_create(&c, nullptr, &none) != ITO_ERR_STRUCT_SIZE || none != nullptr)
      throw std::runtime_error("a wrong struct size must be refused");
  } catch (const std::exception &e) {
    std::fprintf(stderr, "failed: %s\n", e.what());
    return 1;
  }
  std::printf("all checks passed\n");
  return 0;
}
