import Testing

@testable import CRMWeb

@Suite struct FormParsingTests {
    @Test func urlencodedFieldsDecodePlusAndPercentEscapes() throws {
        let fields = try URLEncodedForm.parse(
            Array("name=Zo%C3%AB+M%C3%BCller&email=zoe%2Btag%40example.com&empty=&tag=a&tag=b".utf8))
        #expect(fields.map(\.0) == ["name", "email", "empty", "tag", "tag"])
        #expect(fields[0].1 == "Zoë Müller")
        #expect(fields[1].1 == "zoe+tag@example.com")
        #expect(fields[2].1 == "")
    }

    @Test(arguments: ["a=%ZZ", "a=%C3", "a=%FF%FE"])
    func brokenPercentEncodingOrInvalidUTF8IsRefused(_ body: String) {
        #expect(throws: FormParseError.self) { try URLEncodedForm.parse(Array(body.utf8)) }
    }

    @Test func multipartFieldsAndFilesAreSplitWithTheirHeaders() throws {
        let body = Array(
            ("--XyZ\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\nzoe@example.com\r\n"
                + "--XyZ\r\nContent-Disposition: form-data; name=\"cv\"; filename=\"cv.txt\"\r\nContent-Type: text/plain\r\n\r\nline1\r\nline2\r\n"
                + "--XyZ--\r\n").utf8)
        #expect(MultipartFormData.boundary(fromContentType: "multipart/form-data; boundary=XyZ") == "XyZ")
        #expect(MultipartFormData.boundary(fromContentType: "multipart/form-data; boundary=\"q b\"") == "q b")
        let parts = try MultipartFormData.parse(body, boundary: "XyZ")
        #expect(parts.count == 2)
        #expect(
            parts[0] == FormPart(name: "email", filename: nil, contentType: nil, body: Array("zoe@example.com".utf8)))
        #expect(parts[1].filename == "cv.txt")
        #expect(parts[1].contentType == "text/plain")
        #expect(parts[1].body == Array("line1\r\nline2".utf8), "CRLF inside a part is content")
    }

    @Test(arguments: [
        "no boundary at all",
        "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nnever terminated",
        "--XyZ\r\nContent-Disposition: form-data\r\n\r\nx\r\n--XyZ--",
        "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\nno blank line",
    ])
    func brokenMultipartIsRefused(_ body: String) {
        #expect(throws: FormParseError.self) { try MultipartFormData.parse(Array(body.utf8), boundary: "XyZ") }
    }

    @Test func submissionsRefuseUnknownContentTypesAndOversizedAttachments() throws {
        #expect(throws: SubmissionError.self) {
            try Submission.parse(Array("x".utf8), contentType: "text/plain", limits: .init(attachmentBytes: 10))
        }
        let body = Array(
            "--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.bin\"\r\n\r\n0123456789ABC\r\n--B--\r\n"
                .utf8)
        let error = #expect(throws: SubmissionError.self) {
            try Submission.parse(
                body, contentType: "multipart/form-data; boundary=B", limits: .init(attachmentBytes: 10))
        }
        #expect(error?.status == .contentTooLarge)
        let json = try Submission.parse(
            Array("{\"email\":\"a@b.c\",\"age\":42,\"tags\":[\"x\",\"y\"]}".utf8),
            contentType: "application/json; charset=utf-8", limits: .init(attachmentBytes: 0))
        #expect(json.fields["email"] == ["a@b.c"])
        #expect(json.fields["age"] == ["42"])
        #expect(json.fields["tags"] == ["x", "y"])
        let typed = try Submission.parse(
            Array(#"{"amount":1.50,"id":12345678901234567890,"opt_in":true,"none":null}"#.utf8),
            contentType: "application/json", limits: .init(attachmentBytes: 0))
        #expect(typed.fields["amount"] == ["1.50"], "a number keeps the text it was sent as")
        #expect(typed.fields["id"] == ["12345678901234567890"], "no rounding through a double")
        #expect(typed.fields["opt_in"] == ["1"])
        #expect(typed.fields["none"] == nil)
        #expect(throws: SubmissionError.self) {
            try Submission.parse(
                Array(#"{"tags":[1,2]}"#.utf8), contentType: "application/json", limits: .init(attachmentBytes: 0))
        }
    }

    @Test("more fields or parts than a form allows is 413, at the limit it is read")
    func fieldAndPartCapsAre413() throws {
        let limits = Submission.Limits(attachmentBytes: 100, fields: 3, parts: 2)
        let urlencoded = "application/x-www-form-urlencoded"
        #expect(
            try Submission.parse(Array("a=1&b=2&c=3".utf8), contentType: urlencoded, limits: limits).fields.count == 3)
        let tooMany = #expect(throws: SubmissionError.self) {
            try Submission.parse(Array("a=1&b=2&c=3&d=4".utf8), contentType: urlencoded, limits: limits)
        }
        #expect(tooMany?.status == .contentTooLarge && tooMany?.reason == "too_many_fields")
        let jsonTooMany = #expect(throws: SubmissionError.self) {
            try Submission.parse(
                Array(#"{"a":"1","b":"2","c":"3","d":"4"}"#.utf8), contentType: "application/json", limits: limits)
        }
        #expect(jsonTooMany?.reason == "too_many_fields")

        func multipart(_ parts: Int) -> [UInt8] {
            let body = (0..<parts).map { "--B\r\nContent-Disposition: form-data; name=\"f\($0)\"\r\n\r\nv\r\n" }
                .joined()
            return Array((body + "--B--\r\n").utf8)
        }
        let contentType = "multipart/form-data; boundary=B"
        #expect(try Submission.parse(multipart(2), contentType: contentType, limits: limits).fields.count == 2)
        let tooManyParts = #expect(throws: SubmissionError.self) {
            try Submission.parse(multipart(3), contentType: contentType, limits: limits)
        }
        #expect(tooManyParts?.status == .contentTooLarge && tooManyParts?.reason == "too_many_parts")
    }
}
