//! Range-independent normal-mode forward model (design §3), generic over f32/f64.
