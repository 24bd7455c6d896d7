CREATE TABLE "operator_messages" (
	"id" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"channel" text NOT NULL,
	"admission_id" uuid,
	"status" text NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"detail" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sent_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "review_matches" (
	"admission_id" uuid NOT NULL,
	"provider_id" uuid NOT NULL,
	"client_id" uuid NOT NULL,
	"by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "review_matches_admission_id_provider_id_pk" PRIMARY KEY("admission_id","provider_id")
);
--> statement-breakpoint
CREATE TABLE "stay_links" (
	"message_id" bigint NOT NULL,
	"admission_id" uuid NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "stay_links_message_id_admission_id_pk" PRIMARY KEY("message_id","admission_id")
);
--> statement-breakpoint
ALTER TABLE "admissions" ADD COLUMN "status_reason_code" text;--> statement-breakpoint
ALTER TABLE "admissions" ADD COLUMN "nhs_number" text;--> statement-breakpoint
ALTER TABLE "admissions" ADD COLUMN "unmatched_since" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "admissions" ADD COLUMN "review_resolution" text;--> statement-breakpoint
ALTER TABLE "admissions" ADD COLUMN "review_resolved_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "admissions" ADD COLUMN "review_resolved_by" text;--> statement-breakpoint
ALTER TABLE "admissions" ADD COLUMN "review_note" text;--> statement-breakpoint
ALTER TABLE "alerts" ADD COLUMN "cancels" text;--> statement-breakpoint
ALTER TABLE "alerts" ADD COLUMN "destination_category" text;--> statement-breakpoint
ALTER TABLE "hospitals" ADD COLUMN "code_map" jsonb;--> statement-breakpoint
ALTER TABLE "hospitals" ADD COLUMN "code_map_updated_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "inbound_messages" ADD COLUMN "processing_id" text DEFAULT 'P' NOT NULL;--> statement-breakpoint
ALTER TABLE "operator_messages" ADD CONSTRAINT "operator_messages_admission_id_admissions_id_fk" FOREIGN KEY ("admission_id") REFERENCES "public"."admissions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "review_matches" ADD CONSTRAINT "review_matches_admission_id_admissions_id_fk" FOREIGN KEY ("admission_id") REFERENCES "public"."admissions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "review_matches" ADD CONSTRAINT "review_matches_provider_id_providers_id_fk" FOREIGN KEY ("provider_id") REFERENCES "public"."providers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "review_matches" ADD CONSTRAINT "review_matches_client_id_clients_id_fk" FOREIGN KEY ("client_id") REFERENCES "public"."clients"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "stay_links" ADD CONSTRAINT "stay_links_message_id_inbound_messages_id_fk" FOREIGN KEY ("message_id") REFERENCES "public"."inbound_messages"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "stay_links" ADD CONSTRAINT "stay_links_admission_id_admissions_id_fk" FOREIGN KEY ("admission_id") REFERENCES "public"."admissions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "stay_links_admission_idx" ON "stay_links" USING btree ("admission_id");--> statement-breakpoint
CREATE INDEX "admissions_nhs_idx" ON "admissions" USING btree ("nhs_number");--> statement-breakpoint
CREATE INDEX "admissions_review_idx" ON "admissions" USING btree ("unmatched_since") WHERE "admissions"."status" = 'unmatched' and "admissions"."review_resolved_at" is null;--> statement-breakpoint
-- Decisions use codes, never words: withdrawal reasons stored as sentences become codes
UPDATE "alerts" SET "withdrawn_reason" = CASE "withdrawn_reason"
	WHEN 'superseded by the discharge (A03)' THEN 'superseded-by-discharge'
	WHEN 'admission cancelled by the hospital (A11)' THEN 'admission-cancelled'
	WHEN 'discharge cancelled by the hospital (A13)' THEN 'discharge-cancelled'
	ELSE "withdrawn_reason" END
WHERE "withdrawn_reason" IS NOT NULL;--> statement-breakpoint
-- what a cancellation cancels, from the alert key it was raised under
UPDATE "alerts" SET "cancels" = CASE
	WHEN "alert_key" LIKE 'discharge-cancelled#%' THEN 'discharge'
	WHEN "alert_key" LIKE 'cancellation#%' THEN 'admission'
	END
WHERE "kind" = 'cancellation' AND "cancels" IS NULL;--> statement-breakpoint
-- status reasons: the sentences earlier versions wrote, as codes
UPDATE "admissions" SET "status_reason_code" = CASE
	WHEN "status_reason" LIKE 'no NHS number%' OR "status_reason" LIKE 'no valid NHS number%' OR "status_reason" = 'NHS number is empty' THEN 'no-nhs-number'
	WHEN "status_reason" LIKE 'NHS number%' THEN 'invalid-nhs-number'
	WHEN "status_reason" LIKE 'no date of birth%' THEN 'no-date-of-birth'
	END
WHERE "status_reason" IS NOT NULL AND "status_reason_code" IS NULL;--> statement-breakpoint
UPDATE "admissions" SET "unmatched_since" = "updated_at" WHERE "status" = 'unmatched' AND "unmatched_since" IS NULL;--> statement-breakpoint
-- discharge alerts raised before categories: from the destination of the message that raised them
UPDATE "alerts" a SET "destination_category" = CASE m."parsed"->'discharge'->>'destination'
	WHEN '19' THEN 'home' WHEN '29' THEN 'home'
	WHEN '54' THEN 'care-home' WHEN '65' THEN 'care-home' WHEN '85' THEN 'care-home' WHEN '88' THEN 'care-home'
	WHEN '49' THEN 'hospital' WHEN '50' THEN 'hospital' WHEN '51' THEN 'hospital' WHEN '52' THEN 'hospital'
	WHEN '53' THEN 'hospital' WHEN '84' THEN 'hospital' WHEN '87' THEN 'hospital'
	WHEN '79' THEN 'died'
	ELSE 'unknown' END
FROM "inbound_messages" m
WHERE a."kind" IN ('discharge', 'death') AND a."destination_category" IS NULL AND m."id"::text = a."message_id";
