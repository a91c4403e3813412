// Whether this engine runs WebAssembly's relaxed SIMD: a module whose one function holds an
// `f32x4.relaxed_madd` validates only where it does (Chrome 114+, Firefox 145+, not Safari yet).
// The threaded trainer's loader picks its build by it; the e2e tests check it against the builds.
export const relaxedSimd = WebAssembly.validate(new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, // "\0asm", version 1
  1, 5, 1, 96, 0, 1, 123, // one type: [] -> [v128]
  3, 2, 1, 0, // one function of that type
  10, 61, 1, 59, 0, // its code, no locals:
  253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // v128.const 0
  253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // v128.const 0
  253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // v128.const 0
  253, 133, 2, 11, // f32x4.relaxed_madd, end
]));
