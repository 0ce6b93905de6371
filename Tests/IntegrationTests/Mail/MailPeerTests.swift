import Testing

/// The suites that start real mail daemons (and brokers) run one test at a time: a daemon started while another
/// test spawns a process can inherit that process's descriptors, and Foundation then never notices its exit.
@Suite("Mail peers", .serialized)
struct MailPeerTests {}
