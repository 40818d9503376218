import Foundation
import HTTPHost
import HTTPTypes
import Hummingbird
import NIOCore
import Signalling

extension APIError {
    static let notFound = APIError(.notFound, "session-not-found", "no such session")
}
