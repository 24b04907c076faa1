//! Version orderings of every ecosystem sealwatch matches (apk, dpkg, rpm, semver, PEP 440, Go, Maven, RubyGems, NuGet) and OSV range evaluation
