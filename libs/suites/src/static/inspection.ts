import type { Arch } from '@vmfarm/protocol';
import type {
  BlockSource,
  FatEntry,
  FatVolume,
  FileClassification,
  GptAnalysis,
  GptPartition,
} from '@vmfarm/image';

/** What the clauses learn of one image, in order; later clauses read what earlier ones found. */
export interface Inspection {
  disk: BlockSource;
  format: 'raw' | 'qcow2';
  declaredArch: Arch | null;
  gpt?: GptAnalysis;
  /** Why no partition table could be used, for the clauses after IMG-GPT. */
  gptUnusable?: string;
  esp?: { partition: GptPartition; offset: number; length: number };
  espMissing?: string;
  fat?: FatVolume;
  fatMissing?: string;
  /** Every ESP file with its classification (variable store / firmware). */
  files?: Array<{ entry: FatEntry; found: FileClassification }>;
  bootFile?: FatEntry;
  bootMissing?: string;
  arch: Arch | null;
}
