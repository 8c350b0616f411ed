import { useCallback, useEffect, useRef, useState } from 'react';

export interface Loaded<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  reload: () => void;
  /** Replaces the data in place (live updates), without a request. */
  set: (update: (current: T | undefined) => T | undefined) => void;
}

/**
 * One request per change of `key`; answers to a superseded key are dropped. Data of another key is
 * never returned (no previous filter's rows, no previous matrix's grid while the next one loads);
 * `reload` keeps the data shown until the fresh answer replaces it, or `merge(fresh, shown)` when
 * given (live pages: an answer may be older than events folded in meanwhile).
 */
export function useLoad<T>(
  key: string,
  load: () => Promise<T>,
  merge?: (fresh: T, shown: T) => T,
): Loaded<T> {
  const [state, setState] = useState<{ key: string; data?: T; error?: Error; loading: boolean }>({
    key,
    loading: true,
  });
  const [generation, setGeneration] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  const mergeRef = useRef(merge);
  mergeRef.current = merge;
  useEffect(() => {
    let current = true;
    setState((s) => (s.key === key ? { ...s, loading: true } : { key, loading: true }));
    loadRef.current().then(
      (data) =>
        current &&
        setState((s) => ({
          key,
          data:
            s.key === key && s.data !== undefined && mergeRef.current ? mergeRef.current(data, s.data) : data,
          loading: false,
        })),
      (error: Error) => current && setState({ key, error, loading: false }),
    );
    return () => {
      current = false;
    };
  }, [key, generation]);
  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  const set = useCallback(
    (update: (current: T | undefined) => T | undefined) =>
      setState((s) => (s.key === key ? { ...s, data: update(s.data) } : s)),
    [key],
  );
  const mine = state.key === key;
  return {
    data: mine ? state.data : undefined,
    error: mine ? state.error : undefined,
    loading: mine ? state.loading : true,
    reload,
    set,
  };
}

/**
 * Server-sent events from the controller: one EventSource while the component is mounted, no polling.
 * `onOpen` runs on every (re)connection, so the page refetches what it may have missed meanwhile.
 */
export function useEvents(
  url: string | null,
  handlers: Record<string, (data: unknown) => void>,
  onOpen?: () => void,
) {
  const handlersRef = useRef(handlers);
  handlersRef.current = handlers;
  const openRef = useRef(onOpen);
  openRef.current = onOpen;
  useEffect(() => {
    if (url === null) return undefined;
    const source = new EventSource(url, { withCredentials: true });
    const listeners = Object.keys(handlersRef.current).map((type) => {
      const listener = (e: MessageEvent<string>) => {
        let data: unknown;
        try {
          data = JSON.parse(e.data);
        } catch {
          return; // not JSON: not an event this page understands
        }
        handlersRef.current[type]?.(data);
      };
      source.addEventListener(type, listener);
      return [type, listener] as const;
    });
    const opened = () => openRef.current?.();
    source.addEventListener('open', opened);
    return () => {
      for (const [type, listener] of listeners) source.removeEventListener(type, listener);
      source.removeEventListener('open', opened);
      source.close();
    };
  }, [url]);
}
