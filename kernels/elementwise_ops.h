// Per-element rules of ember's elementwise ops, shared by the CPU backend and the CUDA
// kernels in kernels/elementwise.cu.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/hd.h"

namespace ember::kernels {

// Unary ops take one tensor and a scalar parameter `s` (ignored by most). Floating only. The
// T(...) casts keep both arms of a ?: one type for bfloat16, whose arithmetic yields float.
enum class UnaryOp : int {
  Neg, Exp, Log, Sqrt, Rsqrt, Abs, Sign, Relu, Square, Reciprocal,
  Pow,        // x^s
  AddScalar,  // x + s
  MulScalar,  // x * s
};

// Binary ops; `alpha` scales b in Add and Sub (a + alpha*b, as torch.add's alpha).
// Comparisons write uint8 0/1. ThresholdBackward(g, x) = x > 0 ? g : 0 (ReLU's backward).
enum class BinaryOp : int {
  Add, Sub, Mul, Div, Maximum, Minimum, ThresholdBackward,
  Eq, Ne, Lt, Le, Gt, Ge,
};

EMBER_HD constexpr bool is_comparison(BinaryOp op) { return op >= BinaryOp::Eq; }

template <class T>
EMBER_HD T apply_unary(UnaryOp op, T x, T s) {
  using std::exp, std::log, std::pow, std::sqrt;  // float overloads on the host, as on the device
  switch (op) {
    case UnaryOp::Neg: return -x;
    case UnaryOp::Exp: return exp(x);
    case UnaryOp::Log: return log(x);
    case UnaryOp::Sqrt: return sqrt(x);
    case UnaryOp::Rsqrt: return T(1) / sqrt(x);
    case UnaryOp::Abs: return x < T(0) ? T(-x) : x;
    case UnaryOp::Sign: return T((x > T(0)) - (x < T(0)));
    case UnaryOp::Relu: return x < T(0) ? T(0) : x;  // NaN propagates, as in torch
    case UnaryOp::Square: return x * x;
    case UnaryOp::Reciprocal: return T(1) / x;
    case UnaryOp::Pow: return s == T(2) ? T(x * x) : (s == T(1) ? x : T(pow(x, s)));
    case UnaryOp::AddScalar: return x + s;
    case UnaryOp::MulScalar: return x * s;
  }
  return x;
}

// Result of an arithmetic binary op, or 0/1 for a comparison.
template <class T>
EMBER_HD T apply_binary_arith(BinaryOp op, T a, T b, T alpha) {
  switch (op) {
    case BinaryOp::Add: return a + alpha * b;
    case BinaryOp::Sub: return a - alpha * b;
    case BinaryOp::Mul: return a * b;
    case BinaryOp::Div: return a / b;
    case BinaryOp::Maximum: return (a > b || a != a) ? a : b;  // NaN propagates
    case BinaryOp::Minimum: return (a < b || a != a) ? a : b;
    case BinaryOp::ThresholdBackward: return b > T(0) ? a : T(0);
    default: return T(0);
  }
}

template <class T>
EMBER_HD uint8_t apply_comparison(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::Eq: return a == b;
    case BinaryOp::Ne: return a != b;
    case BinaryOp::Lt: return a < b;
    case BinaryOp::Le: return a <= b;
    case BinaryOp::Gt: return a > b;
    case BinaryOp::Ge: return a >= b;
    default: return 0;
  }
}

}  // namespace ember::kernels
