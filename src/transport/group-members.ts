// The members of consumer groups as the broker tells them (client id, host, partitions): what the
// console's overview lists for each sink. One admin client per process, kept open, and one answer per
// group set every `ttlMs`: consoles refreshing every 2 s cost the broker one DescribeGroups per interval,
// never one per request (the lesson of /readyz, docs/security.md).
import { Admin } from '@platformatic/kafka';
import { baseClientOptions, type KafkaConfig } from './kafka.ts';

export interface GroupMember {
  clientId: string;
  host: string;
  /** Partitions assigned to it, as `topic:partition`. */
  partitions: string[];
}

export class GroupMembers {
  readonly #config: KafkaConfig;
  readonly #ttlMs: number;
  #admin: Admin | null = null;
  /** Set by close(): a question asked after it (a status read finishing during the role's stop) opens nothing. */
  #closed = false;
  readonly #answers = new Map<string, { at: number; members: Promise<GroupMember[] | null> }>();

  constructor(config: KafkaConfig, ttlMs = 2000) {
    this.#config = config;
    this.#ttlMs = ttlMs;
  }

  /** The members of these groups together; an empty list when none is up, null when the broker cannot say. */
  of(groups: readonly string[]): Promise<GroupMember[] | null> {
    const key = [...groups].sort().join(',');
    const cached = this.#answers.get(key);
    if (cached && Date.now() - cached.at < this.#ttlMs) return cached.members;
    const members = this.#describe(groups);
    this.#answers.set(key, { at: Date.now(), members });
    return members;
  }

  async #describe(groups: readonly string[]): Promise<GroupMember[] | null> {
    if (this.#closed) return null;
    try {
      this.#admin ??= new Admin({ ...baseClientOptions(this.#config, 'console'), retries: 0 });
      const described = await this.#admin.describeGroups({ groups: [...groups] });
      return [...described.values()].flatMap((group) =>
        [...group.members.values()].map((member) => ({
          clientId: member.clientId,
          host: member.clientHost.replace(/^\//, ''),
          partitions: [...(member.assignments?.entries() ?? [])].flatMap(([topic, assignment]) => assignment.partitions.map((p) => `${topic}:${p}`)),
        })),
      );
    } catch {
      // A broker down, or no Describe on the group: unknown, not "no member".
      const admin = this.#admin;
      this.#admin = null;
      await admin?.close().catch(() => undefined);
      return null;
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#answers.clear();
    const admin = this.#admin;
    this.#admin = null;
    await admin?.close().catch(() => undefined);
  }
}
