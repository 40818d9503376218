import Foundation
import Signalling
import Testing

/// docs/signalling.md is what clients are written from: every server message it shows decodes with the
/// codec the server encodes with, and every client message it shows is one the server accepts.
@Suite("docs/signalling.md examples")
struct DocumentedMessagesTests {
    /// The JSON code blocks of the document (a block is one message, or one message per line), and the
    /// examples of the client messages' table.
    static func examples() throws -> [String] {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../docs/signalling.md").standardizedFileURL
        let text = try String(contentsOf: path, encoding: .utf8)
        var messages: [String] = []
        for block in text.components(separatedBy: "```json\n").dropFirst() {
            let body = block.components(separatedBy: "\n```").first ?? ""
            if (try? JSONSerialization.jsonObject(with: Data(body.utf8))) != nil {
                messages.append(body)
            } else {
                messages += body.split(separator: "\n").map(String.init).filter { $0.hasPrefix("{") }
            }
        }
        // The client → server table: `{"type":...}` in its example column.
        for line in text.split(separator: "\n") where line.hasPrefix("| `") {
            let cells = line.split(separator: "|")
            if cells.count > 1, let example = cells[1].split(separator: "`").first(where: { $0.hasPrefix("{") }) {
                messages.append(String(example))
            }
        }
        return messages
    }

    @Test("every documented message with a type decodes; server messages re-encode to the same fields")
    func examplesDecode() throws {
        let examples = try Self.examples().filter { $0.contains(#""type""#) }
        #expect(examples.count >= 20)
        var server = 0
        for example in examples {
            let bytes = Array(example.utf8)
            if let message = try? ServerMessage.decode(bytes) {
                server += 1
                // The server's own encoding has exactly the documented fields and values.
                let documented = try JSONSerialization.jsonObject(with: Data(bytes)) as? NSDictionary
                let encoded = try JSONSerialization.jsonObject(with: Data(message.encoded().utf8)) as? NSDictionary
                #expect(documented == encoded, "\(example)\n\(message.encoded())")
            } else {
                #expect(throws: Never.self, "\(example)") { try ClientMessage.decode(bytes) }
            }
        }
        #expect(server >= 14)
    }
}

extension DocumentedMessagesTests {
    @Test("the documented running turn is what GET /v1/sessions/{id}/turn encodes")
    func runningTurnExample() throws {
        let example = try #require(try Self.examples().first { $0.contains("proverPseudonym") })
        let turn = try JSONDecoder().decode(RunningTurn.self, from: Data(example.utf8))
        #expect(
            turn
                == RunningTurn(
                    turn: 0, prover: "acct-17", proverPseudonym: "calm-otter-42", verifiers: ["acct-4", "acct-99"]))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        #expect(String(decoding: try encoder.encode(turn), as: UTF8.self) == example)
    }
}
