//! cosign key formats, simple-signing payloads, DSSE and in-toto statements, signature checks
