import { act, renderHook, waitFor } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { useLoad } from './hooks';

function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe('useLoad', () => {
  it("never returns another key's data: a new filter or matrix shows loading, not the previous rows", async () => {
    const answers = { a: deferred<string>(), b: deferred<string>() };
    const { result, rerender } = renderHook(
      ({ k }: { k: 'a' | 'b' }) => useLoad(k, () => answers[k].promise),
      {
        initialProps: { k: 'a' as 'a' | 'b' },
      },
    );
    await act(async () => answers.a.resolve('rows of a'));
    expect(result.current.data).toBe('rows of a');

    rerender({ k: 'b' });
    expect(result.current.data).toBeUndefined();
    expect(result.current.loading).toBe(true);
    await act(async () => answers.b.resolve('rows of b'));
    expect(result.current.data).toBe('rows of b');
  });

  it('keeps the data shown while it reloads the same key', async () => {
    let n = 0;
    const { result } = renderHook(() => useLoad('k', async () => `answer ${++n}`));
    await waitFor(() => expect(result.current.data).toBe('answer 1'));
    act(() => result.current.reload());
    expect(result.current.data).toBe('answer 1');
    await waitFor(() => expect(result.current.data).toBe('answer 2'));
  });
});
