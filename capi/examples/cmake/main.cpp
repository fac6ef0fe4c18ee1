// ito's C API from a CMake C++17 project (see CMakeLists.txt): a k-diffusion-style
// DPM-Solver++(2M) loop on a Karras grid around an analytic denoiser.
//
// The data are N(mu, s^2) per element, so the exact denoiser (the x0 prediction a trained
// k-diffusion model approximates) is D(x, sigma) = (s^2 x + sigma^2 mu) / (s^2 + sigma^2).
// Sampling from pure noise at sigma = 80 down to 0 must give back mean mu and std s.

#include "ito.h"

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <vector>

namespace {

constexpr double kMu = 0.5;
constexpr double kS = 0.2;
constexpr std::size_t kLen = 4096;

struct Model {
  int calls = 0;
};

// The engine's model behind ito's C callback: writes x0 at the point ito asks for.
int denoise(void *user, const void *input, void *output, std::size_t len, const ito_eval *at) {
  auto *model = static_cast<Model *>(user);
  const auto *x = static_cast<const float *>(input);
  auto *x0 = static_cast<float *>(output);
  const double sigma = at->sigma / at->alpha;  // EDM: alpha = 1, sigma = t
  const double s2 = kS * kS, sig2 = sigma * sigma;
  for (std::size_t i = 0; i < len; ++i)
    x0[i] = static_cast<float>((s2 * static_cast<double>(x[i]) + sig2 * kMu) / (s2 + sig2));
  ++model->calls;
  return 0;  // non-zero would stop the run with ITO_ERR_CALLBACK
}

bool ok(int status, const char *what) {
  if (status == ITO_OK) return true;
  std::fprintf(stderr, "%s: %s: %s\n", what, ito_status_name(status), ito_last_error());
  return false;
}

}  // namespace

int main() {
  ito_sampler_config c;
  if (!ok(ito_sampler_config_init(&c), "ito_sampler_config_init")) return 1;
  c.solver = "dpmpp-2m";
  c.prediction = ITO_PREDICTION_DATA;  // k-diffusion denoisers return x0
  c.schedule = ITO_SCHEDULE_EDM;       // alpha = 1, sigma = t
  c.schedule_params[0] = 0.002;
  c.schedule_params[1] = 80.0;
  c.grid = ITO_GRID_KARRAS;            // sigma_min 0.002, sigma_max 80, rho 7
  c.sigma_min = 0.002;
  c.sigma_max = 80.0;
  c.rho = 7.0;
  c.steps = 10;
  c.clean_end = 1;                     // the last step lands on sigma = 0
  c.len = kLen;
  c.seed = 42;

  ito_sampler *s = nullptr;
  if (!ok(ito_sampler_create(&c, nullptr, &s), "ito_sampler_create")) return 1;

  std::vector<float> x(kLen);
  Model model;
  const bool ran = ok(ito_sampler_reserve(s), "ito_sampler_reserve") &&
                   ok(ito_sampler_init_noise(s, x.data(), x.size()), "ito_sampler_init_noise") &&
                   ok(ito_sampler_run(s, x.data(), x.size(), &denoise, &model), "ito_sampler_run");
  ito_sampler_destroy(s);
  if (!ran) return 1;

  double sum = 0.0, sum2 = 0.0;
  for (float v : x) sum += v;
  const double mean = sum / static_cast<double>(kLen);
  for (float v : x) sum2 += (v - mean) * (v - mean);
  const double std_dev = std::sqrt(sum2 / static_cast<double>(kLen - 1));

  const unsigned version = ito_version();  // major*10000 + minor*100 + patch
  std::printf("ito %u.%u.%u, dpmpp-2m, Karras grid (10 steps), %zu elements, %d model calls\n",
              version / 10000, version / 100 % 100, version % 100, kLen, model.calls);
  std::printf("sample mean %.4f (data %.4f), std %.4f (data %.4f)\n", mean, kMu, std_dev, kS);
  if (!(std::fabs(mean - kMu) <= 0.05 && std::fabs(std_dev - kS) <= 0.05)) {
    std::fprintf(stderr, "the sample does not match the data distribution\n");
    return 1;
  }
  std::printf("ok\n");
  return 0;
}
