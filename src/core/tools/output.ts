/** Bounding output: keep the head and the tail (errors are usually at the end) and say what was cut. */

export function clipText(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const note = (n: number) => `\n[… ${n} characters cut …]\n`;
  const budget = Math.max(0, maxChars - note(text.length).length);
  const head = Math.ceil(budget / 2);
  const tail = budget - head;
  return text.slice(0, head) + note(text.length - head - tail) + (tail > 0 ? text.slice(-tail) : '');
}

/** Collects a byte stream up to `cap` bytes: the first half and the last half, counting what falls between. */
export class CappedBuffer {
  private head: Buffer[] = [];
  private headLen = 0;
  private tail: Buffer[] = [];
  private tailLen = 0;
  total = 0;

  constructor(private readonly cap: number) {}

  push(chunk: Buffer): void {
    this.total += chunk.length;
    const half = Math.floor(this.cap / 2);
    if (this.headLen < this.cap - half) {
      const take = Math.min(chunk.length, this.cap - half - this.headLen);
      this.head.push(chunk.subarray(0, take));
      this.headLen += take;
      chunk = chunk.subarray(take);
      if (!chunk.length) return;
    }
    this.tail.push(chunk);
    this.tailLen += chunk.length;
    while (this.tail.length > 1 && this.tailLen - this.tail[0]!.length >= half) this.tailLen -= this.tail.shift()!.length;
  }

  get droppedBytes(): number {
    const half = Math.floor(this.cap / 2);
    return Math.max(0, this.total - this.headLen - Math.min(this.tailLen, half));
  }

  text(): string {
    const half = Math.floor(this.cap / 2);
    const head = Buffer.concat(this.head).toString('utf8');
    let tail = Buffer.concat(this.tail);
    const dropped = this.droppedBytes;
    if (dropped === 0) return head + tail.toString('utf8');
    tail = tail.subarray(tail.length - half);
    return `${head}\n[… ${dropped} bytes of output cut …]\n${tail.toString('utf8')}`;
  }
}
