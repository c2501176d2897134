#!/usr/bin/python3
"""Interoperability of hanko's JAdES detached JWS with an independent JOSE
implementation, python3-jwcrypto (Debian package).

Usage: /usr/bin/python3 jwcrypto_interop.py HANKO_BINARY PRESCRIPTION_BUNDLE

Direction A: hanko signs the Bundle at B-B (RS256 with the dev "doctor" key,
ES256 with "doctor-ec"); this script recomputes the signed #document bytes
with its own JCS, checks that they equal `hanko canonicalize --method jcs`,
and verifies the detached JWS of Bundle.signature.data with jwcrypto and the
public key of x5c[0] (RFC 7515 Appendix F: the payload is reattached).

Direction B: jwcrypto makes a JWS in hanko's profile (protected header alg,
x5c, x5t#S256, iat, srCms; detached payload = the JCS bytes), the script puts
it into Bundle.signature, and `hanko verify` must say TOTAL-PASSED (exit 0);
with one character of the Bundle changed it must say TOTAL-FAILED (exit 1).

Exit status: 0 passed, 1 failed, 77 skipped (jwcrypto is not installed).
"""

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

SKIP = 77

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from jwcrypto import jwk, jws
    from jwcrypto.common import JWException
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"SKIP: python3-jwcrypto is not available to {sys.executable}: {e}")
    sys.exit(SKIP)

PKI_TIME = "2026-01-15T00:00:00Z"
SIGN_TIME = "2026-01-16T09:30:00Z"
SIGN_TIME_UNIX = 1768555800  # 2026-01-16T09:30:00Z as a NumericDate
VERIFY_TIME = "2026-01-16T10:00:00Z"
AUTHOR_SIGNATURE = "1.2.840.10065.1.12.1.1"
JCS_TARGET_FORMAT = "application/fhir+json;canonicalization=urn:ietf:rfc:8785"

failures = []


def check(condition, what):
    if condition:
        print(f"  ok   {what}")
    else:
        print(f"  FAIL {what}")
        failures.append(what)
    return condition


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def run(args, expect=None):
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    if expect is not None and p.returncode != expect:
        sys.stderr.write(p.stderr.decode("utf-8", "replace"))
        raise RuntimeError(f"{' '.join(args)} exited {p.returncode}, expected {expect}")
    return p


def reject_floats(literal):
    raise ValueError(f"the Bundle holds the non-integer number {literal}: the independent JCS "
                     "(json.dumps) is only equal to RFC 8785 for integers")


def own_jcs(bundle_path) -> bytes:
    """The #document bytes: Bundle without id, meta, signature, as RFC 8785 JCS.

    For data with only integers (below 2^53) and ASCII member names, RFC 8785
    equals json.dumps with sorted keys, no whitespace and no \\u escaping of
    non-ASCII (RFC 8785 section 3.2.2.2 escapes only what JSON requires).
    """
    with open(bundle_path, encoding="utf-8") as f:
        doc = json.load(f, parse_float=reject_floats)

    def check_names(v):
        if isinstance(v, dict):
            for k, x in v.items():
                if not k.isascii():
                    raise ValueError(f"member name {k!r} is not ASCII: sort order would differ from JCS")
                check_names(x)
        elif isinstance(v, list):
            for x in v:
                check_names(x)
        elif isinstance(v, int) and not isinstance(v, bool) and abs(v) > 2**53:
            raise ValueError(f"integer {v} is beyond 2^53")

    check_names(doc)
    for k in ("id", "meta", "signature"):
        doc.pop(k, None)
    return json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def pem_certs(path):
    with open(path, "rb") as f:
        data = f.read()
    certs = []
    marker = b"-----END CERTIFICATE-----"
    for block in data.split(marker):
        if b"-----BEGIN CERTIFICATE-----" in block:
            certs.append(x509.load_pem_x509_certificate(block + marker + b"\n"))
    return certs


def der(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def direction_a(hanko, example, pki, work, signer_id, alg):
    print(f"Direction A: hanko signs with {signer_id}, jwcrypto verifies {alg}")
    signed = os.path.join(work, f"signed-{signer_id}.json")
    run([hanko, "sign", "--in", example, "--out", signed,
         "--cert", os.path.join(pki, f"{signer_id}.pem"),
         "--key", os.path.join(pki, f"{signer_id}.key.pem"),
         "--chain", os.path.join(pki, f"{signer_id}.chain.pem"),
         "--trust", os.path.join(pki, "trust"),
         "--level", "B-B", "--at", SIGN_TIME], expect=0)

    hanko_jcs = run([hanko, "canonicalize", "--in", signed, "--method", "jcs"], expect=0).stdout
    mine = own_jcs(signed)
    check(hanko_jcs == mine, "hanko canonicalize --method jcs equals the script's own JCS of the signed Bundle")
    check(mine == own_jcs(example), "the #document bytes of the signed Bundle equal those of the unsigned one")

    with open(signed, encoding="utf-8") as f:
        bundle = json.load(f)
    sig = bundle.get("signature", {})
    check(sig.get("sigFormat") == "application/jose", "Bundle.signature.sigFormat is application/jose")
    check(sig.get("targetFormat") == JCS_TARGET_FORMAT, "Bundle.signature.targetFormat names RFC 8785")
    token = base64.b64decode(sig["data"], validate=True).decode("ascii")
    parts = token.split(".")
    if not check(len(parts) == 3 and parts[1] == "", "signature.data is a compact JWS with a detached payload (h..s)"):
        return
    header = json.loads(b64url_decode(parts[0]))
    check(header.get("alg") == alg, f"protected header alg is {alg}")
    check("crit" not in header and "b64" not in header, "no crit, no b64 (plain RFC 7515 payload encoding)")
    check(header.get("iat") == SIGN_TIME_UNIX, "iat is the --at signing time as a NumericDate")
    check(header.get("srCms") == [{"commId": {"id": "urn:oid:" + AUTHOR_SIGNATURE}}],
          "srCms names the Author's Signature commitment")
    x5c = header.get("x5c") or []
    if not check(len(x5c) >= 2, "x5c holds the signer and its CA"):
        return
    leaf_der = base64.b64decode(x5c[0], validate=True)
    check(header.get("x5t#S256") == b64url(hashlib.sha256(leaf_der).digest()), "x5t#S256 is the SHA-256 of x5c[0]")
    leaf = x509.load_der_x509_certificate(leaf_der)
    check(leaf_der == der(pem_certs(os.path.join(pki, f"{signer_id}.pem"))[0]), "x5c[0] is the signer's certificate")
    key = jwk.JWK.from_pyca(leaf.public_key())
    if alg == "ES256":
        check(len(b64url_decode(parts[2])) == 64, "the ES256 signature value is 64 bytes R||S (RFC 7518 3.4)")

    verifier = jws.JWS()
    verifier.deserialize(parts[0] + "." + b64url(hanko_jcs) + "." + parts[2])
    try:
        verifier.verify(key, alg=alg)
        check(True, f"jwcrypto verifies hanko's {alg} signature over the JCS bytes")
    except JWException as e:
        check(False, f"jwcrypto verifies hanko's {alg} signature over the JCS bytes ({e})")

    tampered = bytearray(hanko_jcs)
    tampered[len(tampered) // 2] ^= 0x01
    other = jws.JWS()
    other.deserialize(parts[0] + "." + b64url(bytes(tampered)) + "." + parts[2])
    try:
        other.verify(key, alg=alg)
        check(False, "jwcrypto rejects the signature over changed bytes")
    except JWException:
        check(True, "jwcrypto rejects the signature over changed bytes")


def sign_with_jwcrypto(example, pki, signer_id, alg, jcs: bytes) -> dict:
    certs = pem_certs(os.path.join(pki, f"{signer_id}.pem")) + pem_certs(os.path.join(pki, f"{signer_id}.chain.pem"))
    with open(os.path.join(pki, f"{signer_id}.key.pem"), "rb") as f:
        key = jwk.JWK.from_pem(f.read())
    protected = {
        "alg": alg,
        "x5c": [base64.b64encode(der(c)).decode("ascii") for c in certs],
        "x5t#S256": b64url(hashlib.sha256(der(certs[0])).digest()),
        "iat": SIGN_TIME_UNIX,
        "srCms": [{"commId": {"id": "urn:oid:" + AUTHOR_SIGNATURE}}],
    }
    token = jws.JWS(jcs)
    token.add_signature(key, alg=alg, protected=json.dumps(protected))
    h, p, s = token.serialize(compact=True).split(".")
    assert p == b64url(jcs)
    detached = h + ".." + s  # RFC 7515 Appendix F

    with open(example, encoding="utf-8") as f:
        bundle = json.load(f)
    practitioner = next(e["fullUrl"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Practitioner")
    bundle["signature"] = {
        "type": [{"system": "urn:iso-astm:E1762-95:2013", "code": AUTHOR_SIGNATURE, "display": "Author's Signature"}],
        "when": SIGN_TIME,
        "who": {"reference": practitioner},
        "targetFormat": JCS_TARGET_FORMAT,
        "sigFormat": "application/jose",
        "data": base64.b64encode(detached.encode("ascii")).decode("ascii"),
    }
    return bundle


def verify_with_hanko(hanko, pki, path):
    p = run([hanko, "verify", "--in", path, "--trust", os.path.join(pki, "trust"), "--at", VERIFY_TIME,
             "--report", "json"])
    try:
        report = json.loads(p.stdout)
    except ValueError:
        report = {}
        sys.stderr.write(p.stderr.decode("utf-8", "replace"))
    return p.returncode, report


def direction_b(hanko, example, pki, work, signer_id, alg):
    print(f"Direction B: jwcrypto signs {alg} with {signer_id}, hanko verifies")
    hanko_jcs = run([hanko, "canonicalize", "--in", example, "--method", "jcs"], expect=0).stdout
    jcs = own_jcs(example)
    check(hanko_jcs == jcs, "hanko canonicalize --method jcs equals the script's own JCS of the example")
    bundle = sign_with_jwcrypto(example, pki, signer_id, alg, jcs)
    good = os.path.join(work, f"jwcrypto-{signer_id}.json")
    with open(good, "w", encoding="utf-8") as f:
        json.dump(bundle, f, ensure_ascii=False, indent=2)
    code, report = verify_with_hanko(hanko, pki, good)
    check(code == 0, f"hanko verify exits 0 for the jwcrypto signature (exit {code})")
    check(report.get("indication") == "TOTAL-PASSED", f"the report says TOTAL-PASSED ({report.get('indication')}, "
          f"{report.get('signatures', [{}])[0].get('errors')})")
    sig = (report.get("signatures") or [{}])[0]
    check(sig.get("algorithm") == alg, f"the report names {alg}")
    check(sig.get("signatureType") == AUTHOR_SIGNATURE, "the report names the Author's Signature commitment")
    check(sig.get("claimedSigningTime") == SIGN_TIME, "the report's claimed signing time is the iat")
    check((sig.get("signer") or {}).get("role") == "Medical Doctor", "the report shows the hcRole Medical Doctor")

    # One character of the signed content changed: the dosage text 7日分 -> 8日分.
    text = json.dumps(bundle, ensure_ascii=False, indent=2)
    assert text.count("7日分") == 1
    bad = os.path.join(work, f"jwcrypto-{signer_id}-changed.json")
    with open(bad, "w", encoding="utf-8") as f:
        f.write(text.replace("7日分", "8日分"))
    code, report = verify_with_hanko(hanko, pki, bad)
    check(code == 1, f"hanko verify exits 1 when one character of the Bundle changed (exit {code})")
    check(report.get("indication") == "TOTAL-FAILED" and report.get("subIndication") == "SIG_CRYPTO_FAILURE",
          f"the report says TOTAL-FAILED / SIG_CRYPTO_FAILURE ({report.get('indication')} / "
          f"{report.get('subIndication')})")


def main(argv):
    if len(argv) != 3:
        print(__doc__)
        return 2
    hanko, example = os.path.abspath(argv[1]), os.path.abspath(argv[2])
    if not os.access(hanko, os.X_OK):
        print(f"FAIL: {hanko} is not an executable (build the hanko target first)")
        return 1
    work = tempfile.mkdtemp(prefix="hanko-jwcrypto-")
    try:
        pki = os.path.join(work, "pki")
        run([hanko, "dev-pki", "--out", pki, "--at", PKI_TIME], expect=0)
        direction_a(hanko, example, pki, work, "doctor", "RS256")
        direction_a(hanko, example, pki, work, "doctor-ec", "ES256")
        direction_b(hanko, example, pki, work, "doctor", "RS256")
        direction_b(hanko, example, pki, work, "doctor-ec", "ES256")
    except (RuntimeError, ValueError, KeyError, subprocess.TimeoutExpired) as e:
        failures.append(str(e))
        print(f"  FAIL {e}")
    finally:
        if os.environ.get("HANKO_KEEP_TEST_FILES"):
            print(f"files kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("all interop checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
