//! `sigbench`: the cost of one token signature on one core, for each signer Tessera could use.
//!
//! `cargo run --release --example sigbench` (pin it: `taskset -c 0`). Each signer keeps what it
//! can per key (ring and aws-lc-rs key pairs; OpenSSL an `EC_KEY` for ES256 and a `PKey` for
//! Ed25519), and signs a 420-byte `header.payload`, the size of a Tessera token's.
use std::hint::black_box;
use std::time::Instant;

fn bench(name: &str, mut sign: impl FnMut() -> usize) {
    for _ in 0..2_000 {
        black_box(sign());
    }
    let n = 40_000;
    let started = Instant::now();
    for _ in 0..n {
        black_box(sign());
    }
    let us = started.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    println!(
        "{name:24} {us:7.2} µs a signature {:9.0} a second",
        1e6 / us
    );
}

fn main() {
    let message = [b'x'; 420];
    {
        use ring::rand::SystemRandom;
        use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        bench("ring ES256", || {
            key.sign(&rng, &message).unwrap().as_ref().len()
        });
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let key = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        bench("ring Ed25519", || key.sign(&message).as_ref().len());
    }
    {
        use aws_lc_rs::rand::SystemRandom;
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        bench("aws-lc-rs ES256", || {
            key.sign(&rng, &message).unwrap().as_ref().len()
        });
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let key = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        bench("aws-lc-rs Ed25519", || key.sign(&message).as_ref().len());
    }
    {
        use openssl::ec::{EcGroup, EcKey};
        use openssl::ecdsa::EcdsaSig;
        use openssl::nid::Nid;
        use openssl::pkey::PKey;
        use openssl::sign::Signer;
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let key = EcKey::generate(&group).unwrap();
        // ECDSA_do_sign on the digest: no EVP context to set up per signature.
        bench("OpenSSL ES256 (EC_KEY)", || {
            let digest = openssl::sha::sha256(&message);
            let sig = EcdsaSig::sign(&digest, &key).unwrap();
            sig.r().to_vec_padded(32).unwrap().len() + sig.s().to_vec_padded(32).unwrap().len()
        });
        let pkey = PKey::from_ec_key(key).unwrap();
        // What josekit does: an EVP_DigestSign context a signature.
        bench("OpenSSL ES256 (EVP)", || {
            let mut signer = Signer::new(openssl::hash::MessageDigest::sha256(), &pkey).unwrap();
            signer.sign_oneshot_to_vec(&message).unwrap().len()
        });
        let key = PKey::generate_ed25519().unwrap();
        bench("OpenSSL Ed25519 (EVP)", || {
            let mut signer = Signer::new_without_digest(&key).unwrap();
            signer.sign_oneshot_to_vec(&message).unwrap().len()
        });
    }
}
