import { normalizeForWer, wordErrorRate } from './whisper';

describe('word error rate', () => {
  it('normalizes both sides as stated: case, sentence markers, hyphens, punctuation, mr', () => {
    expect(normalizeForWer('<s> and mister john dashwood </s>')).toEqual(['and', 'mister', 'john', 'dashwood']);
    expect(normalizeForWer(' Mr. John Dashwood, ill-disposed; "don\'t" \'quoted\'')).toEqual(['mister', 'john', 'dashwood', 'ill', 'disposed', "don't", 'quoted']);
  });

  it('counts substitutions, insertions and deletions over all reference words', () => {
    expect(wordErrorRate([{ reference: 'a b c d', hypothesis: 'a b c d' }])).toBe(0);
    expect(wordErrorRate([{ reference: 'a b c d', hypothesis: 'a x c' }])).toBe(0.5);
    expect(wordErrorRate([{ reference: 'a b', hypothesis: 'a b c d' }, { reference: 'e f', hypothesis: 'e f' }])).toBe(0.5);
  });
});
