/**
 * Stages a directory file batch by batch (import-stage.ts): read `batchRows` records
 * (import-source.ts), check them (import-rows.ts checkRow, against the stage and the
 * batches still in flight), start F_k and the label seals of the batch's discoverable
 * identifiers on the evaluator (the worker pool), and commit a batch once its tags are back.
 * At most `depth` batches are in flight: reading waits for the oldest (back-pressure), so
 * memory is bounded by depth x batchRows records whatever the size of the file, and the
 * main thread's parsing overlaps the workers' group operations.
 */
import { isSupportedCountry } from 'libphonenumber-js/max';
import { ContactPsiError } from '../errors.js';
import type { CountryCode } from '../contacts/phone.js';
import type { OprfSuite } from '../oprf/suite.js';
import { DEFAULT_MAX_IMPORT_USERS } from './import-file.js';
import { checkRow, importError, type DirectoryImportError, type EarlierRows } from './import-rows.js';
import { detectFileFormat, fileIdentity, openDirectorySource, type SourcePosition } from './import-source.js';
import type { ImportStage, StagedUser, StageKey } from './import-stage.js';
import { tagBatch, type BatchTags } from './import-tag.js';
import type { TagEvaluator } from './precompute.js';

export const DEFAULT_IMPORT_BATCH_ROWS = 4096;
export const DEFAULT_IMPORT_DEPTH = 2;

/** Where tags are computed while staging: the current epoch's key (secret: never logged). */
export interface StageTagging {
  readonly suite: OprfSuite;
  readonly secretKey: Uint8Array;
  readonly epoch: number;
  /** Hex, recorded with the tags: a stage of another key is re-tagged, not applied. */
  readonly publicKey: string;
  readonly evaluator?: TagEvaluator;
  /**
   * Stage no new tags: the fleet's shared precompute computes them after the apply (issue 11
   * §4, `--fleet-precompute`). The stage is still bound to this epoch's key, so tags an
   * earlier run staged under another key are dropped, never applied.
   */
  readonly leaveToFleet?: boolean;
}

export interface StageFileOptions {
  readonly file: string;
  readonly stage: ImportStage;
  readonly defaultRegion?: CountryCode;
  /** Most users (data rows) accepted; more is `too_large`. Default 10,000,000. */
  readonly maxUsers?: number;
  /** Records per batch (default 4096): one stage transaction and one evaluation each. */
  readonly batchRows?: number;
  /** Batches in flight at most (default 2). */
  readonly depth?: number;
  /** Without it the stage holds no tags (precompute computes them after the apply): `--strict`'s check before the store is opened. */
  readonly tagging?: StageTagging;
  /** Each refused row, once, as its batch commits (rows refused by an earlier run first). */
  readonly onError?: (e: DirectoryImportError) => void;
  /** After each committed batch. */
  readonly onBatch?: (p: BatchProgress) => void;
}

export interface BatchProgress {
  /** Batches committed by every run of this import. */
  readonly batches: number;
  /** Records read (header included). */
  readonly rows: number;
  /** Tags this run computed so far. */
  readonly tagsComputed: number;
}

export interface StageSummary {
  readonly key: StageKey;
  /** The stage held part of this import from an earlier run (resumed), or all of it. */
  readonly resumed: boolean;
  readonly users: number;
  readonly rejected: number;
  /** Tags this run computed; tags in the stage from earlier runs. */
  readonly tagsComputed: number;
  readonly tagsStaged: number;
  /** Batches committed by this run. */
  readonly batches: number;
}

interface Pending {
  readonly users: StagedUser[];
  readonly errors: DirectoryImportError[];
  readonly position: SourcePosition;
  readonly dataRows: number;
  readonly tagged: Promise<BatchTags | undefined>;
}

export async function stageDirectoryFile(options: StageFileOptions): Promise<StageSummary> {
  const { stage, file, tagging } = options;
  const { defaultRegion } = options;
  if (defaultRegion !== undefined && !isSupportedCountry(defaultRegion)) {
    throw new ContactPsiError('invalid_region', `unknown default region ${JSON.stringify(String(defaultRegion).slice(0, 8))}`);
  }
  const maxUsers = options.maxUsers ?? DEFAULT_MAX_IMPORT_USERS;
  if (!Number.isSafeInteger(maxUsers) || maxUsers < 0) throw new ContactPsiError('invalid_option', 'maxUsers must be a non-negative integer');
  const batchRows = options.batchRows ?? DEFAULT_IMPORT_BATCH_ROWS;
  if (!Number.isSafeInteger(batchRows) || batchRows < 1) throw new ContactPsiError('invalid_option', 'batchRows must be a positive integer');
  const depth = options.depth ?? DEFAULT_IMPORT_DEPTH;
  if (!Number.isSafeInteger(depth) || depth < 1) throw new ContactPsiError('invalid_option', 'depth must be a positive integer');

  const format = detectFileFormat(file);
  const key: StageKey = { ...fileIdentity(file), format, region: defaultRegion, maxUsers };
  let progress = stage.progress(key);
  const resumed = progress !== undefined;
  if (progress === undefined) {
    stage.reset(key, tagging?.epoch, tagging?.publicKey);
    progress = stage.progress(key)!;
  } else {
    if (tagging !== undefined && (progress.epoch !== tagging.epoch || progress.publicKey !== tagging.publicKey)) stage.retag(tagging.epoch, tagging.publicKey);
    if (!progress.done) stage.loadSeen();
  }
  // Rows refused by an earlier run are reported again: the report covers the whole file.
  if (resumed && options.onError !== undefined) for (const e of stage.errors()) options.onError(e);

  let tagsComputed = 0;
  let batches = 0;
  if (!progress.done) {
    const source = await openDirectorySource(file, format, progress.position);
    try {
      if (source.rows !== undefined && source.rows > maxUsers) throw new ContactPsiError('too_large', `${source.rows} users, more than ${maxUsers}`);
      let dataRows = progress.dataRows;
      let total = progress.batches;
      const inFlight: Pending[] = [];
      // The stage answers for committed rows and for the accepted rows of batches in flight
      // (ImportStage.accept), this batch's earlier rows included.
      const earlier: EarlierRows = stage;
      const commitOldest = async (): Promise<void> => {
        const p = inFlight[0];
        const computed = await p.tagged;
        stage.commitBatch(p.users, p.errors, p.position, p.dataRows, computed);
        inFlight.shift();
        for (const e of p.errors) options.onError?.(e);
        batches++;
        total++;
        options.onBatch?.({ batches: total, rows: p.position.row, tagsComputed });
      };
      for (;;) {
        const { records, position } = await source.next(batchRows);
        if (records.length === 0) break;
        const users: StagedUser[] = [];
        const errors: DirectoryImportError[] = [];
        for (const record of records) {
          if (record.kind === 'blank') continue;
          if (++dataRows > maxUsers) throw new ContactPsiError('too_large', `more than ${maxUsers} users`);
          if (record.kind === 'reject') {
            errors.push(importError(record.row, record.line, record.userId, record.code, record.reason));
            continue;
          }
          const { raw } = record;
          const checked = checkRow(raw, defaultRegion, earlier);
          if (!checked.ok) {
            errors.push(importError(raw.row, raw.line, raw.userId, checked.code, checked.reason));
            continue;
          }
          stage.accept(raw.row, checked.user);
          users.push({ row: raw.row, user: checked.user });
        }
        const tagged =
          tagging === undefined || tagging.leaveToFleet === true
            ? Promise.resolve(undefined)
            : tagBatch(tagging.suite, tagging.secretKey, tagging.evaluator, users).then((t) => {
                tagsComputed += t?.tags.length ?? 0;
                return t;
              });
        tagged.catch(() => undefined); // awaited in commitOldest; a failure surfaces there
        inFlight.push({ users, errors, position, dataRows, tagged });
        while (inFlight.length > depth) await commitOldest();
      }
      while (inFlight.length > 0) await commitOldest();
    } finally {
      source.close();
    }
    stage.markDone();
  }
  const counts = stage.counts();
  return { key, resumed, users: counts.users, rejected: counts.rejected, tagsComputed, tagsStaged: counts.tags - tagsComputed, batches };
}
