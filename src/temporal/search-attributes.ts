/**
 * Search attributes operators filter on in the Temporal Web UI (CONTRACT.md "Operators").
 * Pure: imported by workflow code too. No patient data ever goes into these.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const AdmissionStatusKey = defineSearchAttributeKey('AdmissionStatus', SearchAttributeType.KEYWORD);
export const HospitalOdsKey = defineSearchAttributeKey('HospitalOds', SearchAttributeType.KEYWORD);
export const ProviderOdsKey = defineSearchAttributeKey('ProviderOds', SearchAttributeType.KEYWORD_LIST);
export const EscalationStepKey = defineSearchAttributeKey('EscalationStep', SearchAttributeType.INT);

/** name → CLI type, as `temporal server start-dev --search-attribute NAME=TYPE` wants them */
export const SEARCH_ATTRIBUTES: Record<string, 'Keyword' | 'KeywordList' | 'Int'> = {
  AdmissionStatus: 'Keyword',
  HospitalOds: 'Keyword',
  ProviderOds: 'KeywordList',
  EscalationStep: 'Int',
};
