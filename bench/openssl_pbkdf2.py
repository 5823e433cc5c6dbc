"""OpenSSL's PBKDF2-HMAC-SHA256 at 600 000 iterations (Python's hashlib), the reference of
`make bench` for the worker's password hash: five runs, printed as JSON with the OpenSSL
version. Run it with OPENSSL_ia32cap=":~0x20000000" for a run without the SHA extensions."""
import hashlib, json, ssl, time
runs = []
for _ in range(5):
    start = time.perf_counter()
    hashlib.pbkdf2_hmac("sha256", b"correct horse battery staple", b"seasalt", 600000)
    runs.append((time.perf_counter() - start) * 1000)
print(json.dumps({"runs": runs, "openssl": ssl.OPENSSL_VERSION}))
