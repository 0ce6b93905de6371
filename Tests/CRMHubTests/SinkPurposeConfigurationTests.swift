import CRMConnector
import CRMDelivery
import CRMMasterData
import CRMYAML
import Foundation
import Testing

/// A sink's `purpose:` and `consent_channel:` are read on every sink kind; the mail sink checks e-mail consent.
struct SinkPurposeConfigurationTests {
    func load(_ text: String) throws -> ConfiguredConnector {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("crmhub-purpose-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("c.yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return try ConnectorRegistry.standard.load(path: path)
    }

    @Test func anHTTPSinkServesItsPurposeOnAnyChannelUnlessItNamesOne() throws {
        let plain = try load("name: ads\nkind: http-sink\ntopic: crm.offer\nurl: https://ads.example/api\n")
        #expect(plain.sinkDelivery?.purpose == nil)
        let marketing = try load(
            "name: ads\nkind: http-sink\ntopic: crm.offer\nurl: https://ads.example/api\npurpose: Marketing\n")
        #expect(marketing.sinkDelivery?.purpose == "marketing")
        #expect(marketing.sinkDelivery?.consentChannel == .any)
        let sms = try load(
            "name: ads\nkind: http-sink\ntopic: crm.offer\nurl: https://sms.example/api\npurpose: marketing\nconsent_channel: sms\n"
        )
        #expect(sms.sinkDelivery?.consentChannel == .sms)
    }

    @Test func aMailSinkWithAPurposeChecksEmailConsent() throws {
        let mail = try load(
            """
            name: offers
            kind: smtp-sink
            topic: crm.offer
            url: smtp://mail.example.com:587/hub.example.com
            from: "Shop <offers@example.com>"
            to: "{{email}}"
            template: offer
            message_id_domain: hub.example.com
            purpose: marketing
            """)
        #expect(mail.sinkDelivery?.purpose == "marketing")
        #expect(mail.sinkDelivery?.consentChannel == .email)
    }

    @Test func aChannelWithoutPurposeAndAPurposeOnASourceAreRefused() throws {
        #expect(throws: YAMLError.self) {
            try load(
                "name: ads\nkind: http-sink\ntopic: crm.offer\nurl: https://ads.example/api\nconsent_channel: sms\n")
        }
        #expect(throws: YAMLError.self) {
            try load(
                "name: ads\nkind: http-sink\ntopic: crm.offer\nurl: https://ads.example/api\npurpose: \"two words\"\n")
        }
        #expect(throws: YAMLError.self) {
            try load("name: feed\nkind: process\nrole: source\ncommand: [cat]\ntopic: crm.order\npurpose: marketing\n")
        }
    }
}
