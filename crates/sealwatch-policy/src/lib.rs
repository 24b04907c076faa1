//! Kyverno policy model, image-reference matching and the admission decision, as pure functions
