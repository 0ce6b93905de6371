import Foundation

/// A private mail system for one test: Postfix (SMTP on a free 127.0.0.1 port, STARTTLS with a self-signed
/// certificate, AUTH through Dovecot's SASL socket, virtual-domain delivery into Maildirs) and Dovecot (IMAP with
/// STARTTLS and the same certificate, on a free 127.0.0.1 port, users in a passwd-file, the same Maildirs). Everything
/// lives in a temporary directory; both masters run in the foreground as children of the test and are stopped by PID.
///
/// Domain `crm.test`; every user's password is ``password``. `busy@crm.test` is refused with a 450 (transient),
/// any other unknown local part with a 550 (unknown user). Mail to other domains is refused.
public final class MailServer: Sendable {
    public static let domain = "crm.test"
    public static let password = "s3cret"
    /// The uid/gid that owns the Maildirs (Debian's `nobody`/`nogroup`).
    static let mailOwner: UInt32 = 65534

    public let smtpPort: Int
    public let imapPort: Int
    public let directory: URL
    /// The self-signed certificate Postfix presents on STARTTLS (subjectAltName IP 127.0.0.1).
    public let certificatePath: String
    public let users: [String]
    private let postfix: ChildProcess
    private let dovecot: ChildProcess

    /// `smtp://127.0.0.1:PORT/client.test` (libcurl sends the path as the EHLO name).
    public var smtpURL: String { "smtp://127.0.0.1:\(smtpPort)/client.test" }
    /// `imap://127.0.0.1:PORT`.
    public var imapURL: String { "imap://127.0.0.1:\(imapPort)" }

    public static func address(_ user: String) -> String { "\(user)@\(domain)" }

    public init(users: [String] = ["support", "agent"]) throws {
        for tool in ["/usr/sbin/postfix", "/usr/sbin/dovecot", "/usr/bin/openssl"]
        where !FileManager.default.isExecutableFile(atPath: tool) {
            throw TestSetupError(
                "\(tool) not found: install the Debian packages postfix, dovecot-imapd and openssl (deploy/lib/env.sh lists them)"
            )
        }
        let daemonDirectory = try Self.output("/usr/sbin/postconf", ["-h", "daemon_directory"]).trimmingCharacters(
            in: .whitespacesAndNewlines)
        self.users = users
        smtpPort = try freePort()
        var imap = try freePort()
        while imap == smtpPort { imap = try freePort() }
        imapPort = imap
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "crmhub-mail-\(UUID().uuidString.prefix(8))")
        certificatePath = directory.appendingPathComponent("tls.crt").path
        let layout = Layout(root: directory)
        try layout.create(users: users)
        try Self.run(
            "/usr/bin/openssl",
            [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", layout.key, "-out", certificatePath,
                "-days", "2",
                "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            ])
        try layout.writePostfix(smtpPort: smtpPort, certificate: certificatePath, users: users)
        try layout.writeDovecot(imapPort: imapPort, certificate: certificatePath, users: users)
        try Self.run("/usr/sbin/postfix", ["-c", layout.postfixConfig, "check"])

        // posix_spawn + waitpid (ChildProcess): Foundation's Process can miss a child's exit when tests run in parallel.
        dovecot = try ChildProcess(
            "/usr/sbin/dovecot", ["-F", "-c", layout.dovecotConfig],
            outputPath: layout.root.appendingPathComponent("dovecot.out").path)
        // Postfix's master in the foreground (`-d`, do not detach), so we hold its PID; `-d` also keeps stdout, where
        // `maillog_file = /dev/stdout` logs.
        postfix = try ChildProcess(
            URL(fileURLWithPath: daemonDirectory).appendingPathComponent("master").path,
            ["-c", layout.postfixConfig, "-d"],
            outputPath: layout.root.appendingPathComponent("postfix.log").path,
            environment: ["MAIL_CONFIG": layout.postfixConfig, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"])

        let deadline = Date().addingTimeInterval(20)
        while !(canConnect(port: smtpPort) && canConnect(port: imapPort)
            && FileManager.default.fileExists(atPath: layout.authSocket))
        {
            guard Date() < deadline, postfix.isRunning, dovecot.isRunning else {
                func log(_ name: String) -> String {
                    String(
                        ((try? String(contentsOf: layout.root.appendingPathComponent(name), encoding: .utf8)) ?? "")
                            .suffix(600))
                }
                let state =
                    "postfix running: \(postfix.isRunning), dovecot running: \(dovecot.isRunning), smtp: \(canConnect(port: smtpPort)), imap: \(canConnect(port: imapPort))"
                let logs = "postfix: \(log("postfix.log")) dovecot: \(log("dovecot.out")) \(log("dovecot/dovecot.log"))"
                stop()
                throw TestSetupError(
                    "postfix/dovecot did not start on 127.0.0.1:\(smtpPort)/\(imapPort) (\(state)); \(logs)")
            }
            usleep(50_000)
        }
    }

    deinit {
        stop()
        // CRMHUB_KEEP_MAIL_DIR=1 keeps the configuration, logs and Maildirs for a look after the test.
        if ProcessInfo.processInfo.environment["CRMHUB_KEEP_MAIL_DIR"] != "1" {
            try? FileManager.default.removeItem(at: directory)
        }
    }

    /// Stops both masters (SIGKILL: test children ignore SIGTERM; their worker processes exit when the master's
    /// status pipe closes) and waits for them.
    public func stop() {
        for process in [postfix, dovecot] { process.stop(grace: 0) }
    }

    /// The Maildir of `user`.
    public func maildir(_ user: String) -> URL {
        directory.appendingPathComponent("mail/\(Self.domain)/\(user)")
    }

    /// The messages delivered to `user` (in `new` and `cur`), oldest first by name.
    public func deliveredMessages(_ user: String) -> [URL] {
        var files: [URL] = []
        for folder in ["new", "cur"] {
            let url = maildir(user).appendingPathComponent(folder)
            let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
            files += names.filter { !$0.hasPrefix(".") }.map { url.appendingPathComponent($0) }
        }
        return files.sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    /// Waits (up to `timeout`) until `user` has at least `count` messages and returns them. Suspends between looks,
    /// so in-process services keep the cooperative threads while a test waits for their mail.
    public func waitForMessages(_ user: String, count: Int, timeout: TimeInterval = 10) async throws -> [URL] {
        var files: [URL] = []
        let arrived = await eventually(timeout: .milliseconds(Int(timeout * 1_000))) {
            files = deliveredMessages(user)
            return files.count >= count
        }
        guard arrived else {
            throw TestSetupError(
                "\(user) has \(files.count) message(s), expected \(count); see \(directory.path)/postfix.log")
        }
        return files
    }

    /// Puts a raw RFC 5322 message straight into `user`'s Maildir (as a local delivery agent would).
    public func deposit(_ raw: String, for user: String) throws {
        let crlf = raw.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\n", with: "\r\n")
        try deposit(bytes: Data(crlf.utf8), for: user)
    }

    /// Puts exact bytes (line ends as given) into `user`'s Maildir: for malformed or huge messages.
    public func deposit(bytes: Data, for user: String) throws {
        let name = "\(Int(Date().timeIntervalSince1970)).M\(UInt32.random(in: 0...UInt32.max))P\(getpid()).crmhub-test"
        let temporary = maildir(user).appendingPathComponent("tmp/\(name)")
        let final = maildir(user).appendingPathComponent("new/\(name)")
        try bytes.write(to: temporary)
        chown(temporary.path, Self.mailOwner, Self.mailOwner)
        try FileManager.default.moveItem(at: temporary, to: final)
    }

    private static func run(_ tool: String, _ arguments: [String]) throws {
        _ = try runCapturingOutput(tool, arguments)
    }

    private static func output(_ tool: String, _ arguments: [String]) throws -> String {
        let (status, text) = try ChildProcess.run(tool, arguments, errorPath: "/dev/null")
        guard status == 0 else { throw TestSetupError("\(tool) \(arguments.joined(separator: " ")) failed") }
        return text
    }
}

/// The files of one private mail system.
private struct Layout {
    let root: URL
    var postfixConfig: String { root.appendingPathComponent("postfix/etc").path }
    var key: String { root.appendingPathComponent("tls.key").path }
    var dovecotConfig: String { root.appendingPathComponent("dovecot/dovecot.conf").path }
    var dovecotRun: String { root.appendingPathComponent("dovecot/run").path }
    var authSocket: String { dovecotRun + "/auth-client" }
    var mail: String { root.appendingPathComponent("mail").path }

    func create(users: [String]) throws {
        let manager = FileManager.default
        for folder in ["postfix/etc", "postfix/queue", "postfix/data", "dovecot/run", "dovecot/state", "mail"] {
            try manager.createDirectory(at: root.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        chmod(root.path, 0o755)
        guard let postfixUser = getpwnam("postfix") else {
            throw TestSetupError("the postfix user does not exist (install postfix)")
        }
        chown(root.appendingPathComponent("postfix/data").path, postfixUser.pointee.pw_uid, postfixUser.pointee.pw_gid)
        let owner = MailServer.mailOwner
        chown(mail, owner, owner)
        chown(mail + "/\(MailServer.domain)", owner, owner)
        for user in users {
            for folder in ["", "/new", "/cur", "/tmp"] {
                let path = mail + "/\(MailServer.domain)/\(user)\(folder)"
                try manager.createDirectory(atPath: path, withIntermediateDirectories: true)
                chown(mail + "/\(MailServer.domain)", owner, owner)
                chown(path, owner, owner)
            }
        }
    }

    func writePostfix(smtpPort: Int, certificate: String, users: [String]) throws {
        let main = """
            compatibility_level = 3.6
            queue_directory = \(root.path)/postfix/queue
            data_directory = \(root.path)/postfix/data
            mail_owner = postfix
            myhostname = mx.\(MailServer.domain)
            mydomain = \(MailServer.domain)
            myorigin = \(MailServer.domain)
            mydestination =
            inet_interfaces = 127.0.0.1
            inet_protocols = ipv4
            mynetworks = 127.0.0.0/8
            maillog_file = /dev/stdout
            alias_maps =
            alias_database =
            local_recipient_maps =
            relayhost =
            default_transport = error:outbound mail is disabled in tests
            virtual_mailbox_domains = \(MailServer.domain)
            virtual_mailbox_base = \(mail)
            virtual_mailbox_maps = texthash:\(postfixConfig)/vmailbox
            virtual_uid_maps = static:\(MailServer.mailOwner)
            virtual_gid_maps = static:\(MailServer.mailOwner)
            smtpd_recipient_restrictions = check_recipient_access texthash:\(postfixConfig)/recipient_access, permit_mynetworks, reject_unauth_destination
            smtpd_tls_cert_file = \(certificate)
            smtpd_tls_key_file = \(key)
            smtpd_tls_security_level = may
            smtpd_sasl_auth_enable = yes
            smtpd_sasl_type = dovecot
            smtpd_sasl_path = \(authSocket)
            smtpd_tls_auth_only = yes
            smtputf8_enable = yes

            """
        // The `n` chroot column everywhere: the queue directory holds no copy of /etc.
        let master = """
            127.0.0.1:\(smtpPort) inet n - n - - smtpd
            pickup    unix  n  -  n  60     1  pickup
            cleanup   unix  n  -  n  -      0  cleanup
            qmgr      unix  n  -  n  300    1  qmgr
            tlsmgr    unix  -  -  n  1000?  1  tlsmgr
            rewrite   unix  -  -  n  -      -  trivial-rewrite
            bounce    unix  -  -  n  -      0  bounce
            defer     unix  -  -  n  -      0  bounce
            trace     unix  -  -  n  -      0  bounce
            verify    unix  -  -  n  -      1  verify
            flush     unix  n  -  n  1000?  0  flush
            proxymap  unix  -  -  n  -      -  proxymap
            proxywrite unix -  -  n  -      1  proxymap
            smtp      unix  -  -  n  -      -  smtp
            relay     unix  -  -  n  -      -  smtp
            showq     unix  n  -  n  -      -  showq
            error     unix  -  -  n  -      -  error
            retry     unix  -  -  n  -      -  error
            discard   unix  -  -  n  -      -  discard
            virtual   unix  -  n  n  -      -  virtual
            anvil     unix  -  -  n  -      1  anvil
            scache    unix  -  -  n  -      1  scache
            postlog   unix-dgram n - n -    1  postlogd

            """
        let mailboxes =
            users.map { "\($0)@\(MailServer.domain) \(MailServer.domain)/\($0)/" }.joined(separator: "\n") + "\n"
        let access = "busy@\(MailServer.domain) 450 4.2.1 Mailbox busy, try again later\n"
        try main.write(toFile: postfixConfig + "/main.cf", atomically: true, encoding: .utf8)
        try master.write(toFile: postfixConfig + "/master.cf", atomically: true, encoding: .utf8)
        try mailboxes.write(toFile: postfixConfig + "/vmailbox", atomically: true, encoding: .utf8)
        try access.write(toFile: postfixConfig + "/recipient_access", atomically: true, encoding: .utf8)
        chmod(key, 0o600)
    }

    func writeDovecot(imapPort: Int, certificate: String, users: [String]) throws {
        let usersFile = root.appendingPathComponent("dovecot/users").path
        let config = """
            base_dir = \(dovecotRun)
            state_dir = \(root.path)/dovecot/state
            log_path = \(root.path)/dovecot/dovecot.log
            listen = 127.0.0.1
            protocols = imap
            ssl = yes
            ssl_cert = <\(certificate)
            ssl_key = <\(key)
            disable_plaintext_auth = no
            auth_mechanisms = plain login
            mail_location = maildir:\(mail)/%d/%n
            first_valid_uid = 100
            passdb {
              driver = passwd-file
              args = scheme=PLAIN username_format=%Lu \(usersFile)
            }
            userdb {
              driver = passwd-file
              args = username_format=%Lu \(usersFile)
            }
            service imap-login {
              inet_listener imap {
                address = 127.0.0.1
                port = \(imapPort)
              }
              inet_listener imaps {
                port = 0
              }
            }
            service auth {
              unix_listener auth-client {
                mode = 0666
              }
            }

            """
        let owner = MailServer.mailOwner
        let entries = users.map { user in
            "\(user)@\(MailServer.domain):{PLAIN}\(MailServer.password):\(owner):\(owner)::\(mail)/\(MailServer.domain)/\(user)::"
        }
        try config.write(toFile: dovecotConfig, atomically: true, encoding: .utf8)
        try (entries.joined(separator: "\n") + "\n").write(toFile: usersFile, atomically: true, encoding: .utf8)
    }
}
