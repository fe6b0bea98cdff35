//! A valid request for every RPC (protobuf text format; the idempotency key
//! is added where there is one). Cases spoil one field of it at a time, so a
//! refusal must be about that field. The entities named need not exist:
//! requests are checked before anything is looked up.

/// A campaign and its spec (also inside other requests).
macro_rules! campaign {
    () => {
        r#"campaign_id: "boost" spec { name: "Boost" description: "d" terms: "t" schedule { timezone: "Europe/Rome" starts_at { seconds: 1767225600 } ends_at { seconds: 1767312000 } } effect { extra_percent { asset: "EUR" percent: "2" } } conditions { categories: "shoes" channels: CHANNEL_ONLINE min_order_amount { amount: "10.00" asset: "EUR" } } budgets { total { amount: "100.00" asset: "EUR" } per_day { amount: "10.00" asset: "EUR" } low_percent: 20 } }"#
    };
}

/// A SimulateProgram request (also inside StartSimulation).
macro_rules! simulate_program {
    () => {
        r#"program { program_id: "cb" name: "Cashback" currency: "EUR" timezone: "Europe/Rome" earn_rules { asset: "EUR" basis: EARN_BASIS_PERCENT rate: "5" } min_order_amount { amount: "1.00" asset: "EUR" } thresholds { over { amount: "100.00" asset: "EUR" } comparison: THRESHOLD_COMPARISON_GREATER_THAN asset: "EUR" rate: "10" } category_multipliers { category: "shoes" multiplier: "2" } excluded_categories: "gift_card" caps { asset: "EUR" per_order { amount: "20.00" asset: "EUR" } per_period { amount: "50.00" asset: "EUR" } period: CAP_PERIOD_MONTH } return_window_days: 14 welcome_bonus { amount: "1.00" asset: "EUR" } birthday_bonus { amount: "1.00" asset: "EUR" } conversion { points { amount: "100" asset: "PTS" } value { amount: "5.00" asset: "EUR" } } } from { seconds: 1767225600 } to { seconds: 1767312000 } top_customers: 10"#
    };
}

pub const BASES: &[(&str, &str)] = &[
    // wallet
    (
        "WalletService/Credit",
        r#"customer_id: "alice" amount { amount: "1.00" asset: "EUR" } funded_by { kind: ACCOUNT_KIND_FUNDING id: "promo" } description: "x""#,
    ),
    (
        "WalletService/Reverse",
        r#"customer_id: "alice" credit_id: "cr_1" amount { amount: "1.00" asset: "EUR" } clawback_policy: CLAWBACK_POLICY_ONLY_PENDING"#,
    ),
    (
        "WalletService/ReleaseCredit",
        r#"customer_id: "alice" source_reference: "o-1" release_at { seconds: 1767225600 }"#,
    ),
    (
        "WalletService/Authorize",
        r#"customer_id: "alice" amount { amount: "1.00" asset: "EUR" } ttl { seconds: 600 } reference: "cart-1""#,
    ),
    (
        "WalletService/Capture",
        r#"hold_id: "hd_1" amount { amount: "1.00" asset: "EUR" }"#,
    ),
    ("WalletService/Void", r#"hold_id: "hd_1""#),
    (
        "WalletService/Transfer",
        r#"from_customer_id: "alice" to_customer_id: "bob" amount { amount: "1.00" asset: "EUR" } description: "gift""#,
    ),
    (
        "WalletService/PostTransaction",
        r#"postings { account { kind: ACCOUNT_KIND_FUNDING id: "a" } layer: LAYER_AVAILABLE amount { amount: "-1.00" asset: "EUR" } } postings { account { kind: ACCOUNT_KIND_FUNDING id: "b" } layer: LAYER_AVAILABLE amount { amount: "1.00" asset: "EUR" } } description: "move""#,
    ),
    (
        "WalletService/GetBalance",
        r#"customer_id: "alice" asset: "EUR" as_of { seconds: 1767225600 }"#,
    ),
    (
        "WalletService/GetFundingSummary",
        r#"funded_by { kind: ACCOUNT_KIND_FUNDING id: "promo" } from { seconds: 1767225600 } to { seconds: 1767312000 }"#,
    ),
    (
        "WalletService/ListEntries",
        r#"customer_id: "alice" asset: "EUR" from { seconds: 1767225600 } to { seconds: 1767312000 } page { page_size: 10 }"#,
    ),
    (
        "WalletService/ListExpiringLots",
        r#"customer_id: "alice" within { seconds: 86400 } asset: "EUR" page { page_size: 10 }"#,
    ),
    (
        "WalletService/ExportStatements",
        r#"customer_id: "alice" asset: "EUR" from { seconds: 1767225600 } to { seconds: 1767312000 } format: EXPORT_FORMAT_CSV"#,
    ),
    ("WalletService/FollowEvents", r#"from_cursor: "0.1""#),
    (
        "WalletService/WatchEvents",
        r#"customer_id: "alice" types: EVENT_TYPE_CREDITED"#,
    ),
    // accrual
    (
        "AccrualService/UpsertProgram",
        r#"program { program_id: "cb" name: "Cashback" currency: "EUR" timezone: "Europe/Rome" earn_rules { asset: "EUR" basis: EARN_BASIS_PERCENT rate: "5" } min_order_amount { amount: "1.00" asset: "EUR" } thresholds { over { amount: "100.00" asset: "EUR" } comparison: THRESHOLD_COMPARISON_GREATER_THAN asset: "EUR" rate: "10" } category_multipliers { category: "shoes" multiplier: "2" } excluded_categories: "gift_card" caps { asset: "EUR" per_order { amount: "20.00" asset: "EUR" } per_period { amount: "50.00" asset: "EUR" } period: CAP_PERIOD_MONTH } return_window_days: 14 welcome_bonus { amount: "1.00" asset: "EUR" } birthday_bonus { amount: "1.00" asset: "EUR" } conversion { points { amount: "100" asset: "PTS" } value { amount: "5.00" asset: "EUR" } } }"#,
    ),
    ("AccrualService/GetProgram", r#"program_id: "cb""#),
    (
        "AccrualService/EnrollMember",
        r#"program_id: "cb" customer_id: "alice" birthday: "04-21" segment: "vip" opt_ins: CHANNEL_ONLINE referral_code: "BRAVE23" enrolled_at { seconds: 1767225600 }"#,
    ),
    (
        "AccrualService/GetMember",
        r#"program_id: "cb" customer_id: "alice""#,
    ),
    (
        "AccrualService/UpdateMember",
        r#"member { program_id: "cb" customer_id: "alice" birthday: "04-21" segment: "vip" opt_ins: CHANNEL_ONLINE } update_mask { paths: "segment" }"#,
    ),
    ("AccrualService/PreviewPurchase", PURCHASE),
    ("AccrualService/RecordPurchase", PURCHASE),
    ("AccrualService/RecordGuestPurchase", PURCHASE),
    (
        "AccrualService/RecordReturn",
        r#"program_id: "cb" order_id: "o-1" return_id: "r-1" lines { line_id: "l1" quantity: 1 } occurred_at { seconds: 1767225600 }"#,
    ),
    (
        "AccrualService/ConvertPoints",
        r#"program_id: "cb" customer_id: "alice" points { amount: "100" asset: "PTS" }"#,
    ),
    (
        "AccrualService/GetProgramReport",
        r#"program_id: "cb" from { seconds: 1767225600 } to { seconds: 1767312000 } repeat_within_days: 30"#,
    ),
    (
        "AccrualService/ExportRows",
        r#"program_id: "cb" kind: EXPORT_KIND_TAX_REPORT format: EXPORT_FORMAT_CSV from { seconds: 1767225600 } to { seconds: 1767312000 }"#,
    ),
    (
        "AccrualService/GetTaxReport",
        r#"program_id: "cb" from { seconds: 1767225600 } to { seconds: 1767312000 }"#,
    ),
    (
        "AccrualService/GetExperimentReport",
        r#"program_id: "cb" campaign_id: "ab" from { seconds: 1767225600 } to { seconds: 1767312000 } within_days: 30 control_variant: "control""#,
    ),
    ("SimulationService/SimulateProgram", simulate_program!()),
    (
        "SimulationService/SimulateCampaign",
        concat!(
            r#"program_id: "cb" "#,
            campaign!(),
            r#" from { seconds: 1767225600 } to { seconds: 1767312000 } top_customers: 10"#
        ),
    ),
    (
        "SimulationService/StartSimulation",
        concat!("program { ", simulate_program!(), " }"),
    ),
    (
        "SimulationService/GetSimulation",
        r#"simulation_id: "sim-1""#,
    ),
    (
        "SimulationService/ListSimulations",
        r#"state: SIMULATION_STATE_RUNNING page { page_size: 10 }"#,
    ),
    (
        "SimulationService/CancelSimulation",
        r#"simulation_id: "sim-1""#,
    ),
    ("AccrualService/FollowEvents", r#"from_cursor: "0.1""#),
    (
        "AccrualService/WatchEvents",
        r#"program_id: "cb" customer_id: "alice" types: EVENT_TYPE_MEMBER_ENROLLED"#,
    ),
    (
        "AccrualService/ReviewPurchase",
        r#"program_id: "cb" order_id: "o-1" decision: REVIEW_DECISION_APPROVE note: "ok""#,
    ),
    // campaign
    ("CampaignService/CreateCampaign", CAMPAIGN),
    ("CampaignService/UpdateCampaign", CAMPAIGN),
    (
        "CampaignService/ScheduleCampaign",
        r#"campaign_id: "boost""#,
    ),
    (
        "CampaignService/PauseCampaign",
        r#"campaign_id: "boost" reason: "why""#,
    ),
    ("CampaignService/ResumeCampaign", r#"campaign_id: "boost""#),
    (
        "CampaignService/EndCampaign",
        r#"campaign_id: "boost" reason: "why""#,
    ),
    ("CampaignService/ArchiveCampaign", r#"campaign_id: "boost""#),
    (
        "CampaignService/GetCampaign",
        r#"campaign_id: "boost" terms_at { seconds: 1767225600 }"#,
    ),
    (
        "CampaignService/ListCampaigns",
        r#"statuses: CAMPAIGN_STATUS_DRAFT page { page_size: 10 }"#,
    ),
    (
        "CampaignService/ListApplicableCampaigns",
        r#"at { seconds: 1767225600 } channel: CHANNEL_ONLINE categories: "shoes" segment: "vip" tier: "gold" customer_id: "alice" store_id: "s1" order_amount { amount: "10.00" asset: "EUR" }"#,
    ),
    (
        "CampaignService/ReserveBudget",
        r#"campaign_id: "boost" amount { amount: "1.00" asset: "EUR" } ttl { seconds: 60 } customer_id: "alice" order_id: "o-1" order_amount { amount: "100.00" asset: "EUR" } unit_value: "0.05" channel: CHANNEL_ONLINE store_id: "s1""#,
    ),
    (
        "CampaignService/ConfirmBudget",
        r#"reservation_id: "rs_1" amount { amount: "1.00" asset: "EUR" }"#,
    ),
    (
        "CampaignService/ReleaseBudget",
        r#"reservation_id: "rs_1" amount { amount: "1.00" asset: "EUR" } order_amount { amount: "60.00" asset: "EUR" }"#,
    ),
    (
        "CampaignService/GetCampaignReport",
        r#"campaign_id: "boost" from { seconds: 1767225600 } to { seconds: 1767312000 }"#,
    ),
    (
        "CampaignService/ListAuditEvents",
        r#"campaign_id: "boost" page { page_size: 10 }"#,
    ),
    // coupons
    (
        "CouponService/CreateCouponBatch",
        r#"campaign_id: "boost" batch_id: "b1" rules { max_uses: 1 max_uses_per_customer: 1 valid_from { seconds: 1767225600 } valid_until { seconds: 1767312000 } conditions { categories: "shoes" channels: CHANNEL_ONLINE min_order_amount { amount: "50.00" asset: "EUR" } } effect { percent_off { percent: "10" scope: DISCOUNT_SCOPE_ORDER } } } given { codes { code: "BF26-AB" customer_id: "alice" } }"#,
    ),
    (
        "CouponService/GetCouponBatch",
        r#"campaign_id: "boost" batch_id: "b1""#,
    ),
    (
        "CouponService/ListCouponBatches",
        r#"campaign_id: "boost" page { page_size: 10 }"#,
    ),
    ("CampaignService/FollowEvents", r#"from_cursor: "0.1""#),
    (
        "CampaignService/WatchEvents",
        r#"campaign_id: "boost" customer_id: "alice" types: EVENT_TYPE_COUPON_REDEEMED"#,
    ),
    ("CouponService/GetCoupon", r#"code: "BF26-AB""#),
    (
        "CouponService/ListCoupons",
        r#"campaign_id: "boost" batch_id: "b1" customer_id: "alice" state: COUPON_STATE_AVAILABLE page { page_size: 10 }"#,
    ),
    (
        "CouponService/CheckCoupons",
        r#"codes: "BF26-AB" customer_id: "alice""#,
    ),
    (
        "CouponService/ReserveCoupon",
        r#"code: "BF26-AB" customer_id: "alice" order_id: "o-1" ttl { seconds: 600 }"#,
    ),
    ("CouponService/ConfirmCoupon", r#"redemption_id: "cr_1""#),
    ("CouponService/ReleaseCoupon", r#"redemption_id: "cr_1""#),
    (
        "CouponService/IssueVoucher",
        r#"campaign_id: "boost" customer_id: "alice" reference: "o-1" value { amount: "5.00" asset: "EUR" } min_order { amount: "50.00" asset: "EUR" } valid_from { seconds: 1767225600 } valid_until { seconds: 1767312000 }"#,
    ),
    ("CouponService/VoidVoucher", r#"reference: "o-1""#),
    // checkout
    (
        "CheckoutService/EvaluateCart",
        r#"cart { program_id: "cb" customer_id: "alice" currency: "EUR" channel: CHANNEL_ONLINE store_id: "s1" lines { line_id: "1" sku: "x" category: "shoes" unit_price { amount: "10.00" asset: "EUR" } quantity: 1 } coupon_codes: "BF26-AB" pay_with_points { amount: "100" asset: "PTS" } pay_with_cashback { amount: "1.00" asset: "EUR" } }"#,
    ),
    (
        "CheckoutService/ReserveCheckout",
        r#"session_id: "s-1" cart { program_id: "cb" customer_id: "alice" currency: "EUR" channel: CHANNEL_ONLINE store_id: "s1" lines { line_id: "1" sku: "x" category: "shoes" unit_price { amount: "10.00" asset: "EUR" } quantity: 1 } coupon_codes: "BF26-AB" pay_with_points { amount: "100" asset: "PTS" } pay_with_cashback { amount: "1.00" asset: "EUR" } } ttl { seconds: 600 }"#,
    ),
    (
        "CheckoutService/ConfirmCheckout",
        r#"session_id: "s-1" order_id: "o-1""#,
    ),
    ("CheckoutService/CancelCheckout", r#"session_id: "s-1""#),
    ("CheckoutService/GetCheckout", r#"session_id: "s-1""#),
    // referral
    (
        "ReferralService/UpsertReferralProgram",
        r#"program { referee_bonus { amount: "5.00" asset: "EUR" } referee_bonus_trigger: REFEREE_BONUS_TRIGGER_ON_FIRST_PURCHASE referrer_reward { percent: "5" } max_rewarded_purchases: 3 reward_months: 12 min_order_amount { amount: "10.00" asset: "EUR" } attribution_window_days: 30 }"#,
    ),
    ("ReferralService/GetReferralProgram", r#"version: 1"#),
    (
        "ReferralService/CreateReferralCode",
        r#"referrer_customer_id: "alice" referrer_email: "alice@example.com" requested_code: "BRAVE23" expires_at { seconds: 1893456000 }"#,
    ),
    ("ReferralService/DisableReferralCode", r#"code: "BRAVE23""#),
    (
        "ReferralService/AttributeReferral",
        r#"code: "BRAVE23" referee_customer_id: "bob" context { email: "bob@example.com" ip: "10.0.0.1" device_id: "d1" signup_at { seconds: 1767225600 } }"#,
    ),
    (
        "ReferralService/GetReferral",
        r#"referee_customer_id: "bob""#,
    ),
    (
        "ReferralService/ListReferrals",
        r#"referrer_customer_id: "alice" page { page_size: 10 }"#,
    ),
    (
        "ReferralService/OnPurchase",
        r#"referee_customer_id: "bob" order_id: "o-1" order_amount { amount: "10.00" asset: "EUR" } occurred_at { seconds: 1767225600 } release_at { seconds: 1768435200 }"#,
    ),
    (
        "ReferralService/OnReturn",
        r#"referee_customer_id: "bob" order_id: "o-1" return_id: "r-1" returned_amount { amount: "10.00" asset: "EUR" }"#,
    ),
    (
        "ReferralService/GetFunnelReport",
        r#"from { seconds: 1767225600 } to { seconds: 1767312000 }"#,
    ),
    ("ReferralService/FollowEvents", r#"from_cursor: "0.1""#),
    (
        "ReferralService/WatchEvents",
        r#"customer_id: "alice" types: EVENT_TYPE_REFERRAL_REWARDED"#,
    ),
    // admin
    (
        "AdminService/CreateTenant",
        r#"tenant { tenant_id: "acme" name: "Acme" timezone: "Europe/Rome" }"#,
    ),
    ("AdminService/ListTenants", r#"page { page_size: 10 }"#),
    // notify
    (
        "WebhookService/CreateWebhook",
        r#"url: "https://hooks.example.com/boomerang" types: "reward.pending" description: "crm""#,
    ),
    ("WebhookService/GetWebhook", r#"webhook_id: "wh_0001""#),
    ("WebhookService/ListWebhooks", r#"page { page_size: 10 }"#),
    (
        "WebhookService/UpdateWebhook",
        r#"webhook_id: "wh_0001" url: "https://hooks.example.com/b" types: "tier.changed" description: "crm""#,
    ),
    ("WebhookService/PauseWebhook", r#"webhook_id: "wh_0001""#),
    ("WebhookService/ResumeWebhook", r#"webhook_id: "wh_0001""#),
    ("WebhookService/DeleteWebhook", r#"webhook_id: "wh_0001""#),
    (
        "WebhookService/RotateWebhookSecret",
        r#"webhook_id: "wh_0001""#,
    ),
    (
        "WebhookService/ListDeliveries",
        r#"webhook_id: "wh_0001" state: DELIVERY_STATE_DEAD_LETTER page { page_size: 10 }"#,
    ),
    (
        "WebhookService/ReplayDeliveries",
        r#"webhook_id: "wh_0001" delivery_ids: "dl_1""#,
    ),
    (
        "AdminService/CreateApiKey",
        r#"tenant_id: "acme" name: "ci" scopes { service: "wallet" access: ACCESS_READ } expires_at { seconds: 1893456000 }"#,
    ),
    (
        "AdminService/ListApiKeys",
        r#"tenant_id: "acme" page { page_size: 10 }"#,
    ),
    (
        "AdminService/RotateApiKey",
        r#"key_id: "key_1" overlap { seconds: 60 }"#,
    ),
    ("AdminService/RevokeApiKey", r#"key_id: "key_1""#),
    (
        "JobService/ListParkedJobs",
        r#"service: SERVICE_WALLET tenant_id: "acme" page { page_size: 10 }"#,
    ),
    (
        "JobService/RetryParkedJob",
        r#"service: SERVICE_WALLET job_id: 1"#,
    ),
    (
        "JobService/DiscardParkedJob",
        r#"service: SERVICE_WALLET job_id: 1 reason: "gone""#,
    ),
];

const PURCHASE: &str = r#"purchase { program_id: "cb" order_id: "o-1" customer_id: "alice" currency: "EUR" lines { line_id: "l1" sku: "s1" category: "shoes" unit_price { amount: "10.00" asset: "EUR" } quantity: 1 discount { amount: "1.00" asset: "EUR" } } channel: CHANNEL_ONLINE store_id: "s1" occurred_at { seconds: 1767225600 } }"#;

const CAMPAIGN: &str = campaign!();
