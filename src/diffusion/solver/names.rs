//! Solvers by name, as the examples and command lines spell them.

use std::str::FromStr;
use std::sync::Arc;

use super::{Churn, Solver, SolverType, UniPcVariant};
use crate::runtime::Error;

/// Every name [`Solver::from_str`] accepts.
pub const SOLVER_NAMES: &[&str] = &[
    "dpm-1",
    "dpm-2m",
    "dpm-3m",
    "dpm-3m-taylor",
    "dpm-2s",
    "dpm-3s",
    "dpmpp-1",
    "dpmpp-2m",
    "dpmpp-3m",
    "dpmpp-3m-taylor",
    "dpmpp-2m-heun",
    "dpmpp-2s",
    "dpmpp-3s",
    "sde-dpmpp-1",
    "sde-dpmpp-2m",
    "sde-dpmpp-3m",
    "sde-dpmpp-3m-heun",
    "deis-1",
    "deis-2",
    "deis-3",
    "unipc-1",
    "unipc-2",
    "unipc-3",
    "unipc-bh1-2",
    "unipc-bh1-3",
    "unip-2",
    "unip-3",
    "ddim",
    "ddpm",
    "euler",
    "euler-a",
    "heun",
    "edm-churn",
    "interpolant-ode",
    "interpolant-sde",
];

impl FromStr for Solver {
    type Err = Error;

    fn from_str(name: &str) -> Result<Self, Error> {
        let mid = SolverType::Midpoint;
        let unipc = |order, variant, corrector| Solver::UniPc {
            order,
            variant,
            corrector,
        };
        Ok(match name {
            "dpm-1" => Solver::DpmMultistep {
                order: 1,
                solver_type: mid,
            },
            "dpm-2m" => Solver::DpmMultistep {
                order: 2,
                solver_type: mid,
            },
            "dpm-3m" => Solver::DpmMultistep {
                order: 3,
                solver_type: mid,
            },
            "dpm-3m-taylor" => Solver::DpmMultistep {
                order: 3,
                solver_type: SolverType::Taylor,
            },
            "dpm-2s" => Solver::DpmSinglestep {
                order: 2,
                solver_type: mid,
            },
            "dpm-3s" => Solver::DpmSinglestep {
                order: 3,
                solver_type: mid,
            },
            "dpmpp-1" => Solver::DpmppMultistep {
                order: 1,
                solver_type: mid,
            },
            "dpmpp-2m" => Solver::DpmppMultistep {
                order: 2,
                solver_type: mid,
            },
            "dpmpp-3m" => Solver::DpmppMultistep {
                order: 3,
                solver_type: mid,
            },
            "dpmpp-3m-taylor" => Solver::DpmppMultistep {
                order: 3,
                solver_type: SolverType::Taylor,
            },
            "dpmpp-2m-heun" => Solver::DpmppMultistep {
                order: 2,
                solver_type: SolverType::Heun,
            },
            "dpmpp-2s" => Solver::DpmppSinglestep {
                order: 2,
                solver_type: mid,
            },
            "dpmpp-3s" => Solver::DpmppSinglestep {
                order: 3,
                solver_type: mid,
            },
            "sde-dpmpp-1" => Solver::SdeDpmppMultistep {
                order: 1,
                solver_type: mid,
            },
            "sde-dpmpp-2m" => Solver::SdeDpmppMultistep {
                order: 2,
                solver_type: mid,
            },
            "sde-dpmpp-3m" => Solver::SdeDpmppMultistep {
                order: 3,
                solver_type: mid,
            },
            // k-diffusion's sample_dpmpp_3m_sde: its second-order warm-up step weighs D₁ by
            // the exact φ₂ (SolverType::Heun) where diffusers' midpoint form halves φ₁.
            "sde-dpmpp-3m-heun" => Solver::SdeDpmppMultistep {
                order: 3,
                solver_type: SolverType::Heun,
            },
            "deis-1" => Solver::Deis { order: 1 },
            "deis-2" => Solver::Deis { order: 2 },
            "deis-3" => Solver::Deis { order: 3 },
            "unipc-1" => unipc(1, UniPcVariant::Bh2, true),
            "unipc-2" => unipc(2, UniPcVariant::Bh2, true),
            "unipc-3" => unipc(3, UniPcVariant::Bh2, true),
            "unipc-bh1-2" => unipc(2, UniPcVariant::Bh1, true),
            "unipc-bh1-3" => unipc(3, UniPcVariant::Bh1, true),
            "unip-2" => unipc(2, UniPcVariant::Bh2, false),
            "unip-3" => unipc(3, UniPcVariant::Bh2, false),
            "ddim" => Solver::Ddim { eta: 0.0 },
            "ddpm" => Solver::Ddim { eta: 1.0 },
            "euler" => Solver::Euler { churn: Churn::NONE },
            "euler-a" => Solver::EulerAncestral { eta: 1.0 },
            "heun" => Solver::Heun { churn: Churn::NONE },
            "edm-churn" => Solver::Heun {
                // EDM's ImageNet-64 settings.
                churn: Churn {
                    s_churn: 40.0,
                    s_tmin: 0.05,
                    s_tmax: 50.0,
                    s_noise: 1.003,
                },
            },
            "interpolant-ode" => Solver::InterpolantOde,
            "interpolant-sde" => Solver::InterpolantSde {
                // ε(t) = 1: a unit diffusion coefficient throughout.
                diffusion: Arc::new(|_| 1.0),
            },
            _ => {
                return Err(Error::config(
                    "solver",
                    "a name from SOLVER_NAMES (e.g. dpmpp-2m, unipc-3, deis-2)",
                    name,
                ))
            }
        })
    }
}
