import CRMBilling
import CRMConnector
import CRMHTTPConnector
import CRMMail
import CRMProcessConnector
import CRMTelephony
import CRMTryton
import CRMWeb

extension ConnectorRegistry {
    /// Every connector kind this hub knows. A new kind is one type in a connector module plus one line here.
    public static let standard = ConnectorRegistry([
        HTTPSinkConnector.self,
        WebFormConnector.self,
        StripeWebhookConnector.self,
        JSONWebhookConnector.self,
        ProcessConnector.self,
        KamailioConnector.self,
        AsteriskAMIConnector.self,
        TrytonPartySinkConnector.self,
        TrytonSaleSourceConnector.self,
        TrytonPartySourceConnector.self,
        StripeCustomerSinkConnector.self,
        SMTPSinkConnector.self,
        IMAPSourceConnector.self,
    ])
}
