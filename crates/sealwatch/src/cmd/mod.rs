//! One module per subcommand.
pub mod inspect;
pub mod keygen;
pub mod verify_blob;
pub mod rules;
pub mod watch;
