//! Inject + sign on the official LAB sample, RSA-2048, PAdES B-B.
//!
//! `scripts/pades_bench/run.sh` runs this and the same work with pyHanko in
//! the same run, and prints the ratio.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use fse_pades::{KeySigner, Mode, SignOptions};

fn rsa_signer() -> KeySigner {
    use rsa::pkcs8::EncodePrivateKey as _;
    let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
    let der = key.to_pkcs8_der().unwrap().as_bytes().to_vec();
    let pair = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
        &der.as_slice().into(),
        &rcgen::PKCS_RSA_SHA256,
    )
    .unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "fse2 bench signer");
    let cert = params.self_signed(&pair).unwrap();
    KeySigner::from_der(vec![cert.der().to_vec()], &der).unwrap()
}

fn bench(c: &mut Criterion) {
    let Some(corpus) = fse_tests::corpus("bench sign") else {
        return;
    };
    let pdf = std::fs::read(corpus.join("pdf/LAB.pdf")).unwrap();
    let cda = std::fs::read(corpus.join("cda/LAB.xml")).unwrap();
    let signer = rsa_signer();
    let options = SignOptions {
        reason: Some("Firma Digitale".into()),
        location: Some("Roma, IT".into()),
        time: Some(time::OffsetDateTime::now_utc()),
        ..Default::default()
    };
    let mut group = c.benchmark_group("pades");
    group.bench_function("sign/LAB", |b| {
        b.iter(|| fse_pades::sign(black_box(&pdf), &signer, &options).unwrap())
    });
    group.bench_function("inject_sign/LAB", |b| {
        b.iter(|| {
            let injected =
                fse_pades::inject(black_box(&pdf), black_box(&cda), Mode::Attachment).unwrap();
            fse_pades::sign(&injected, &signer, &options).unwrap()
        })
    });
    // The floor: one RSA-2048 signature over the signed attributes.
    let attributes = [0x31u8; 180];
    group.bench_function("rsa2048_signature", |b| {
        b.iter(|| fse_pades::Signer::sign(&signer, black_box(&attributes)).unwrap())
    });
    group.bench_function("inject/LAB", |b| {
        b.iter(|| fse_pades::inject(black_box(&pdf), black_box(&cda), Mode::Attachment).unwrap())
    });
    group.bench_function("verify/LAB", |b| {
        b.iter(|| fse_pades::verify(black_box(&pdf)).unwrap())
    });
    group.bench_function("extract/LAB", |b| {
        b.iter(|| fse_pades::extract(black_box(&pdf)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
