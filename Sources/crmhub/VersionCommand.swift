import ArgumentParser
import CRMKafka

struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version", abstract: "Print crmhub's version and the librdkafka it runs on.")

    func run() {
        print("crmhub \(CRMHubVersion.current)")
        print(
            "librdkafka runtime \(KafkaRuntime.versionString) (built against headers \(KafkaRuntime.headerVersionString))"
        )
        if KafkaRuntime.hasTaggedFieldBug {
            print("warning: librdkafka older than 2.1 mis-parses tagged fields that modern brokers send; see README")
        }
    }
}
