//! Package databases and lockfiles to packages with PURLs, over a filesystem trait; base-image facts.
//! Pure: analyzers receive file contents and metadata, they never touch the host filesystem.

pub mod facts;
