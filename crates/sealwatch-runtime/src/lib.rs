//! Event sources for the rules engine (replay files, later live eBPF), process table, alert outputs
