ALTER TABLE "clients" ADD COLUMN "not_our_client_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "clients" ADD COLUMN "not_our_client_by" text;