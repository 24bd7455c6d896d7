CREATE TABLE "rate_limits" (
	"key" text PRIMARY KEY NOT NULL,
	"window_start" timestamp with time zone NOT NULL,
	"hits" integer DEFAULT 0 NOT NULL,
	"blocked_until" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "hospitals" ADD COLUMN "mllp_allowed_cidrs" text[] DEFAULT '{}'::text[] NOT NULL;--> statement-breakpoint
ALTER TABLE "hospitals" ADD COLUMN "mllp_certificate_fingerprints" text[] DEFAULT '{}'::text[] NOT NULL;--> statement-breakpoint
ALTER TABLE "hospitals" ADD COLUMN "silence_alert_seconds" integer DEFAULT 7200 NOT NULL;--> statement-breakpoint
ALTER TABLE "inbound_messages" ADD COLUMN "lease_until" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "inbound_messages_nhs_idx" ON "inbound_messages" USING btree (("parsed"->'patient'->>'nhsNumber'));