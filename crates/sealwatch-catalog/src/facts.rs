//! Base-image facts (shells, package managers, setuid files, user). Written by the lead; filled in soon.
