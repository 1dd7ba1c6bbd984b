// Imported before uPlot, which formats numbers with navigator.language as it loads: a
// language tag Intl rejects (a Chromium started with LANG=C.UTF-8 reports
// 'en-US@posix') would otherwise stop the whole script.
try {
  new Intl.NumberFormat(navigator.language);
} catch {
  Object.defineProperty(navigator, 'language', { value: 'en-US', configurable: true });
}
export {};
