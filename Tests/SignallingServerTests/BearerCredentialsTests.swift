import HTTPHost
import SignallingServer
import Testing

@Suite("Authorization: Bearer")
struct BearerCredentialsTests {
    @Test(
        "the scheme is case-insensitive and spaces after it are skipped (RFC 9110 §11.1)",
        arguments: ["Bearer key-1", "bearer key-1", "BEARER key-1", "bEaReR   key-1"])
    func accepted(header: String) {
        #expect(BearerKeys.credentials(in: header) == "key-1")
    }

    @Test(
        "other schemes and empty tokens are not bearer credentials",
        arguments: ["Basic a2V5", "Bearer", "Bearer  ", "Bearerkey", ""])
    func refused(header: String) {
        #expect(BearerKeys.credentials(in: header) == nil)
    }
}
