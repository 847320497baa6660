//! A simulated EDI trading partner over SFTP and a local folder (work in progress).
