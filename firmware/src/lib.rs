//! `vina-firmware`: the buoy side of vina (design §8). This first piece checks on the
//! device what the host tests pin down: the PRNG stream and the model-file decoder.
#![no_std]
#![forbid(unsafe_code)]
