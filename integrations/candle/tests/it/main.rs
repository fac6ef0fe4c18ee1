//! ito-candle against candle-transformers 0.11.1's own schedulers, in one test binary (linking
//! candle is the slow part of a build on CI's two cores):
//! (a) `ddim` — DDIM vs candle's DDIM; (b) `unipc` — UniPC vs candle's UniPC; (c) `direct` — the
//! adapter vs ito's own sampler, bit for bit; (d) `bad_input` — errors, never panics; and
//! `schedule` — timesteps, `add_noise`, `init_noise_sigma`, `scale_model_input` are candle's.

mod bad_input;
mod common;
mod ddim;
mod direct;
mod schedule;
mod unipc;
