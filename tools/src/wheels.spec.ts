import { wheelRelease } from './wheels';

describe("a wheel's file name", () => {
  it("gives the package's name as pip prints it, and its version", () => {
    expect(wheelRelease('/cache/praat_parselmouth-0.4.7-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl')).toEqual({ name: 'praat-parselmouth', version: '0.4.7' });
    expect(wheelRelease('Jinja2-3.1.6-py3-none-any.whl')).toEqual({ name: 'jinja2', version: '3.1.6' });
    // A build tag is the optional sixth part.
    expect(wheelRelease('pkg.name-1.0-1-py3-none-any.whl')).toEqual({ name: 'pkg-name', version: '1.0' });
  });

  it('refuses a name that is not a wheel', () => {
    expect(() => wheelRelease('numpy-2.4.6.tar.gz')).toThrow(/not a wheel's file name/);
  });
});
