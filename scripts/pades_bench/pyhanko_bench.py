#!/usr/bin/env python3
"""Signs the official LAB sample with pyHanko, in-process, the same work as
fse-pades' criterion bench (crates/fse-pades/benches/sign.rs): a PAdES B-B
signature with an RSA-2048 key (sign/LAB), and cda.xml embedded then signed
(inject_sign/LAB). Prints one JSON object: milliseconds per operation.

Usage: pyhanko_bench.py CORPUS_DIR [ITERATIONS]
pyHanko gets bytes_reserved=8192, which spares it its dry-run signature
(without it, it is about twice as slow).
"""
import datetime
import io
import json
import os
import statistics
import sys
import tempfile
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils import embed, generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers


def make_signer(workdir):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pyHanko bench signer")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_path = os.path.join(workdir, "key.pem")
    cert_path = os.path.join(workdir, "cert.pem")
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    return signers.SimpleSigner.load(key_path, cert_path)


META = dict(field_name="Signature2", subfilter=fields.SigSeedSubFilter.PADES,
            reason="Firma Digitale", location="Roma, IT")


def sign(pdf, signer):
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    return signers.sign_pdf(writer, signers.PdfSignatureMetadata(**META), signer=signer,
                            bytes_reserved=8192).getvalue()


def inject_sign(pdf, cda, signer):
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    now = datetime.datetime.now(datetime.timezone.utc)
    data = embed.EmbeddedFileObject.from_file_data(
        writer, data=cda, mime_type="application/xml",
        params=embed.EmbeddedFileParams(embed_size=True, embed_checksum=True, modification_date=now))
    spec = embed.FileSpec(file_spec_string="cda.xml", file_name="cda.xml", embedded_data=data,
                          description="HL7 CDA2", af_relationship=generic.NameObject("/Data"))
    embed.embed_file(writer, spec)
    return signers.sign_pdf(writer, signers.PdfSignatureMetadata(**META), signer=signer,
                            bytes_reserved=8192).getvalue()


def measure(fn, iterations):
    for _ in range(3):
        fn()
    times = []
    for _ in range(iterations):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000.0)
    return {"mean_ms": statistics.mean(times), "median_ms": statistics.median(times), "n": iterations}


def main():
    corpus = sys.argv[1]
    iterations = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    with open(os.path.join(corpus, "pdf", "LAB.pdf"), "rb") as f:
        pdf = f.read()
    with open(os.path.join(corpus, "cda", "LAB.xml"), "rb") as f:
        cda = f.read()
    with tempfile.TemporaryDirectory() as workdir:
        signer = make_signer(workdir)
        # The outputs must be real signatures: sizes are a cheap sanity check.
        assert len(sign(pdf, signer)) > len(pdf)
        result = {
            "sign/LAB": measure(lambda: sign(pdf, signer), iterations),
            "inject_sign/LAB": measure(lambda: inject_sign(pdf, cda, signer), iterations),
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
