//! The world model: the simulated Lambda service, billing, fault injection and the FMI
//! collectives. It implements the engine's [`crate::engine::TaskInvoker`] and [`crate::engine::Clock`].
