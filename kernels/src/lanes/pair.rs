//! `Pair<L>`: two vectors of `L` used as one of twice the width.
//!
//! Every operation is issued on both halves back to back, so the two halves form independent
//! dependency chains that the CPU overlaps: the Philox rounds and the normal transform are
//! long latency-bound chains (divide, square root, fma), and one chain alone leaves most
//! execution ports idle. Results are those of `L` on each half, so bit identity carries over;
//! the horizontal folds combine the halves first (lane k with lane k + W), which is exactly
//! the halving order the trait specifies.

use super::{Lanes, LanesFn};
use crate::noise::NoiseKey;
use crate::{bf16, f16};

/// Two `L` vectors acting as one of width `2·L::WIDTH`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Pair<L>(pub L);

impl<L: LanesToken> Pair<L> {
    /// Runs `f` on `Pair<L>` inside `L`'s own entry point (so that `L`'s target features apply).
    #[inline(always)]
    pub fn run<F: LanesFn>(self, f: F) -> F::Output {
        self.0.run_with(PairFn(f))
    }
}

/// A lane token that has an entry point compiled for its instruction set.
pub trait LanesToken: Lanes {
    /// Runs `f` with `self` inside that entry point.
    fn run_with<F: LanesFn>(self, f: F) -> F::Output;
}

struct PairFn<F>(F);

impl<F: LanesFn> LanesFn for PairFn<F> {
    type Output = F::Output;
    #[inline(always)]
    fn call<M: Lanes>(self, l: M) -> F::Output {
        self.0.call(Pair(l))
    }
}

macro_rules! both {
    ($self:ident, $op:ident, $($a:ident),+) => {
        [$self.0.$op($($a[0]),+), $self.0.$op($($a[1]),+)]
    };
}

impl<L: Lanes> Lanes for Pair<L> {
    const WIDTH: usize = 2 * L::WIDTH;
    type F = [L::F; 2];
    type U = [L::U; 2];

    #[inline(always)]
    fn splat(self, x: f32) -> Self::F {
        let v = self.0.splat(x);
        [v, v]
    }
    #[inline(always)]
    fn add(self, a: Self::F, b: Self::F) -> Self::F {
        both!(self, add, a, b)
    }
    #[inline(always)]
    fn sub(self, a: Self::F, b: Self::F) -> Self::F {
        both!(self, sub, a, b)
    }
    #[inline(always)]
    fn mul(self, a: Self::F, b: Self::F) -> Self::F {
        both!(self, mul, a, b)
    }
    #[inline(always)]
    fn div(self, a: Self::F, b: Self::F) -> Self::F {
        both!(self, div, a, b)
    }
    #[inline(always)]
    fn sqrt(self, a: Self::F) -> Self::F {
        both!(self, sqrt, a)
    }
    #[inline(always)]
    fn fma(self, a: Self::F, b: Self::F, c: Self::F) -> Self::F {
        both!(self, fma, a, b, c)
    }
    #[inline(always)]
    fn abs(self, a: Self::F) -> Self::F {
        both!(self, abs, a)
    }
    #[inline(always)]
    fn max_nan(self, m: Self::F, x: Self::F) -> Self::F {
        both!(self, max_nan, m, x)
    }
    #[inline(always)]
    fn sum_halving(self, a: Self::F) -> f32 {
        self.0.sum_halving(self.0.add(a[0], a[1]))
    }
    #[inline(always)]
    fn max_nan_halving(self, a: Self::F) -> f32 {
        self.0.max_nan_halving(self.0.max_nan(a[0], a[1]))
    }

    #[inline(always)]
    fn splat_u(self, x: u32) -> Self::U {
        let v = self.0.splat_u(x);
        [v, v]
    }
    #[inline(always)]
    fn index_u(self, base: u32) -> Self::U {
        [
            self.0.index_u(base),
            self.0.index_u(base.wrapping_add(L::WIDTH as u32)),
        ]
    }
    #[inline(always)]
    fn add_u(self, a: Self::U, b: Self::U) -> Self::U {
        both!(self, add_u, a, b)
    }
    #[inline(always)]
    fn sub_u(self, a: Self::U, b: Self::U) -> Self::U {
        both!(self, sub_u, a, b)
    }
    #[inline(always)]
    fn xor_u(self, a: Self::U, b: Self::U) -> Self::U {
        both!(self, xor_u, a, b)
    }
    #[inline(always)]
    fn and_u(self, a: Self::U, b: Self::U) -> Self::U {
        both!(self, and_u, a, b)
    }
    #[inline(always)]
    fn or_u(self, a: Self::U, b: Self::U) -> Self::U {
        both!(self, or_u, a, b)
    }
    #[inline(always)]
    fn shr<const N: i32>(self, a: Self::U) -> Self::U {
        [self.0.shr::<N>(a[0]), self.0.shr::<N>(a[1])]
    }
    #[inline(always)]
    fn shl<const N: i32>(self, a: Self::U) -> Self::U {
        [self.0.shl::<N>(a[0]), self.0.shl::<N>(a[1])]
    }
    #[inline(always)]
    fn eq_u(self, a: Self::U, b: Self::U) -> Self::U {
        both!(self, eq_u, a, b)
    }
    #[inline(always)]
    fn mulhilo(self, a: Self::U, m: u32) -> (Self::U, Self::U) {
        let (h0, l0) = self.0.mulhilo(a[0], m);
        let (h1, l1) = self.0.mulhilo(a[1], m);
        ([h0, h1], [l0, l1])
    }
    #[inline(always)]
    fn i32_to_f32(self, a: Self::U) -> Self::F {
        both!(self, i32_to_f32, a)
    }
    #[inline(always)]
    fn f32_to_bits(self, a: Self::F) -> Self::U {
        both!(self, f32_to_bits, a)
    }
    #[inline(always)]
    fn bits_to_f32(self, a: Self::U) -> Self::F {
        both!(self, bits_to_f32, a)
    }
    #[inline(always)]
    fn select(self, mask: Self::U, if_set: Self::F, if_clear: Self::F) -> Self::F {
        both!(self, select, mask, if_set, if_clear)
    }
    #[inline(always)]
    fn flag_not_below(self, acc: Self::U, a: Self::F, limit: Self::F) -> Self::U {
        both!(self, flag_not_below, acc, a, limit)
    }
    #[inline(always)]
    fn any_u(self, a: Self::U) -> bool {
        self.0.any_u(self.0.or_u(a[0], a[1]))
    }
    #[inline(always)]
    fn nan_sticky(self, acc: Self::F, v: Self::F) -> Self::F {
        both!(self, nan_sticky, acc, v)
    }

    #[inline(always)]
    fn interleave4(self, z: [Self::F; 4]) -> [Self::F; 4] {
        // Half 0 holds blocks 0..W, half 1 blocks W..2W: each half's 4W elements in order.
        let a = self.0.interleave4([z[0][0], z[1][0], z[2][0], z[3][0]]);
        let b = self.0.interleave4([z[0][1], z[1][1], z[2][1], z[3][1]]);
        [[a[0], a[1]], [a[2], a[3]], [b[0], b[1]], [b[2], b[3]]]
    }

    #[inline(always)]
    fn outlined<F: LanesFn>(self, f: F) -> F::Output {
        self.0.outlined(PairFn(f))
    }

    #[inline(always)]
    fn tile_normals(self, key: &NoiseKey, first_block: u64) -> [Self::F; 4] {
        self.0.pair_tile_normals(key, first_block)
    }

    #[inline(always)]
    fn load_f32(self, s: &[f32]) -> Self::F {
        [self.0.load_f32(s), self.0.load_f32(&s[L::WIDTH..])]
    }
    #[inline(always)]
    fn load_f16(self, s: &[f16]) -> Self::F {
        [self.0.load_f16(s), self.0.load_f16(&s[L::WIDTH..])]
    }
    #[inline(always)]
    fn load_bf16(self, s: &[bf16]) -> Self::F {
        [self.0.load_bf16(s), self.0.load_bf16(&s[L::WIDTH..])]
    }
    #[inline(always)]
    fn store_f32(self, d: &mut [f32], v: Self::F) {
        self.0.store_f32(d, v[0]);
        self.0.store_f32(&mut d[L::WIDTH..], v[1]);
    }
    #[inline(always)]
    fn store_f16(self, d: &mut [f16], v: Self::F) {
        self.0.store_f16(d, v[0]);
        self.0.store_f16(&mut d[L::WIDTH..], v[1]);
    }
    #[inline(always)]
    fn store_bf16(self, d: &mut [bf16], v: Self::F) {
        self.0.store_bf16(d, v[0]);
        self.0.store_bf16(&mut d[L::WIDTH..], v[1]);
    }
}
