//! The Amazon States Language: the typed model of a definition, the parser that builds it from
//! JSON (keeping every node's JSON pointer and source position), and the validator that reports
//! every problem at once.
