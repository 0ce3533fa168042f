// Every fixed text of the portal in English and Chinese. Elements name their text with
// data-i18n (text), data-i18n-html (markup of ours), data-i18n-ph (placeholder) and
// data-i18n-aria (aria-label); scripts ask t(). Data from the server is shown as it is.

const STORE = "suanwang.lang";

const EN = {
  subtitle: "computing force network",
  logout: "Log out",
  language: "Language",
  theme: "Colour theme",
  themeAuto: "Auto",
  themeLight: "Light",
  themeDark: "Dark",
  login: "Log in",
  bearer: "Bearer token",
  loginHint: "Create a token with <code>suanwang token create</code>; the first start of " +
    "<code>suanwang serve</code> prints an admin token.",
  network: "Network",
  mapLabel: "network map",
  legendA: "Tiers: ■ hub · ◆ region · ● edge, on-site, terminal (smaller further out). Sites " +
    "are filled by their most constrained resource (the highest of reserved CPU cores, memory, " +
    "each kind of accelerator, and the share of full nodes; hover for all of them) and links " +
    "by reserved bandwidth:",
  legendB: ". The selected task's path is orange. Click a site for its nodes.",
  free: "free",
  full: "full",
  sites: "Sites",
  sitesHint: "Open a site's nodes:",
  tabs: "Views",
  tabTasks: "Tasks",
  tabSubmit: "Submit",
  tabNodes: "Nodes",
  tabTwin: "Twin runs",
  tabSeries: "Time series",
  seriesHint: "Sampled by the server from its counters: per interval the tasks that arrived, " +
    "were placed and were refused, and the share that met their SLA; the share of CPU cores " +
    "reserved per tier and at the busiest sites.",
  seriesInfo: "{n} samples, one every {period} s",
  seriesEmpty: "No samples yet.",
  secondsAgo: "last {s} s",
  chartArrivals: "Tasks per interval",
  arrivals: "arrived",
  placed: "placed",
  refused: "refused",
  chartSla: "SLA met (completed in the interval)",
  chartTiers: "CPU cores reserved per tier",
  chartSites: "CPU cores reserved, busiest sites",
  twinSeries: "Twin runs over simulated time",
  twinSla: "SLA met per bucket",
  twinArrivals: "Arrivals per bucket",
  twinRejected: "Rejected per bucket",
  twinQueued: "Queued at the end of each bucket",
  simSeconds: "{s} s simulated",
  state: "State",
  any: "any",
  search: "Search",
  searchPh: "id prefix or task type",
  colTask: "task",
  colType: "type",
  colState: "state",
  colNode: "node",
  colSubmitted: "submitted (UTC)",
  newer: "← newer",
  older: "older →",
  submitHint: "Fields left empty take the catalogue type's values, else the server's defaults.",
  taskType: "Task type",
  taskTypePh: "catalogue type (optional)",
  ingress: "Ingress site",
  work: "Work (GFLOP)",
  workPh: "type's (else needed)",
  cores: "CPU cores",
  coresPh: "type's, else 1",
  memory: "Memory (GiB)",
  memoryPh: "type's, else 0.5",
  dataIn: "Data in (MB)",
  dataInPh: "type's, else 0",
  latency: "Latency budget (ms)",
  latencyPh: "type's, else none",
  taskClass: "Class",
  classDefault: "type's, else warm",
  accelerator: "Accelerator",
  accelDefault: "type's, else none",
  submitTask: "Submit task",
  site: "Site",
  allSites: "all sites",
  none: "none",
  colSite: "site",
  colCores: "cores",
  colMem: "mem GiB",
  colAccel: "accelerators",
  colCpuLoad: "cpu load",
  colMemLoad: "mem load",
  scenario: "Scenario",
  duration: "Duration (s)",
  profiles: "Profiles to compare",
  runTwin: "Run the twin",
  noTasks: "no tasks",
  noneOnPage: "none on this page of {total}",
  showing: "showing {n} of {total}, newest first",
  showingRange: "showing {from}–{to} of {total}, newest first",
  mapStats: "{sites} sites · {nodes} nodes · {links} links",
  task: "Task {id}",
  offline: "The control plane is not answering since {since}; retrying. " +
    "What is shown is from before then.",
  tokenRefused: "Token refused: {why}",
  cannotLogIn: "Cannot log in: {why}",
  noNetwork: "Could not load the network: {why}",
  legendQuarantine: " A red ring marks a site with a quarantined node.",
  unverified: "unverified",
  attested: "attested",
  quarantined: "quarantined",
  quarantinedAt: "{n} node(s) quarantined",
  trustDeclared: "declared trust level {level} ({name})",
  trustEarned: "earned trust:",
  trustConsistent: "{n} consistent attestation(s) in a row",
  quarantineReason: "Quarantined, nothing new is placed here. Reason: {why}",
  quarantineStaff: "Quarantined, nothing new is placed here. Operators can read the reason.",
  claimedGflops: "claimed fp64 peak (GFLOP/s)",
  measuredGflops: "measured at the last attestation (GFLOP/s)",
  measuredRatio: "measured / claimed",
  notMeasured: "not measured yet",
  trustNotShown: "Trust not shown: {why}",
};

const ZH = {
  subtitle: "算力网络",
  logout: "退出登录",
  language: "语言",
  theme: "配色",
  themeAuto: "自动",
  themeLight: "浅色",
  themeDark: "深色",
  login: "登录",
  bearer: "持有者令牌",
  loginHint: "用 <code>suanwang token create</code> 创建令牌；" +
    "<code>suanwang serve</code> 首次启动时会打印管理员令牌。",
  network: "网络",
  mapLabel: "网络地图",
  legendA: "层级：■ 枢纽 · ◆ 区域 · ● 边缘、本地、终端（越靠外越小）。站点按其最受限的资源着色" +
    "（已预留的 CPU 核、内存、各类加速器及满载节点比例中的最高者；悬停可见全部），" +
    "链路按已预留带宽着色：",
  legendB: "。选中任务的路径为橙色。点击站点查看其节点。",
  free: "空闲",
  full: "满载",
  sites: "站点",
  sitesHint: "打开站点的节点：",
  tabs: "视图",
  tabTasks: "任务",
  tabSubmit: "提交",
  tabNodes: "节点",
  tabTwin: "孪生运行",
  tabSeries: "时间序列",
  seriesHint: "服务器按其计数器采样：每个区间内到达、放置和被拒绝的任务数，以及满足 SLA 的比例；各层级和最繁忙站点已预留的 CPU 核比例。",
  seriesInfo: "{n} 个样本，每 {period} 秒一个",
  seriesEmpty: "尚无样本。",
  secondsAgo: "最近 {s} 秒",
  chartArrivals: "每个区间的任务数",
  arrivals: "到达",
  placed: "已放置",
  refused: "被拒绝",
  chartSla: "SLA 满足率（区间内完成的任务）",
  chartTiers: "各层级已预留的 CPU 核",
  chartSites: "已预留的 CPU 核（最繁忙站点）",
  twinSeries: "孪生运行（模拟时间）",
  twinSla: "每个时段的 SLA 满足率",
  twinArrivals: "每个时段的到达数",
  twinRejected: "每个时段的拒绝数",
  twinQueued: "每个时段结束时排队的任务",
  simSeconds: "模拟 {s} 秒",
  state: "状态",
  any: "任意",
  search: "搜索",
  searchPh: "ID 前缀或任务类型",
  colTask: "任务",
  colType: "类型",
  colState: "状态",
  colNode: "节点",
  colSubmitted: "提交时间 (UTC)",
  newer: "← 较新",
  older: "较旧 →",
  submitHint: "留空的字段取目录中该类型的值，否则取服务器的默认值。",
  taskType: "任务类型",
  taskTypePh: "目录类型（可选）",
  ingress: "接入站点",
  work: "计算量 (GFLOP)",
  workPh: "取类型的值（否则必填）",
  cores: "CPU 核数",
  coresPh: "取类型的值，否则 1",
  memory: "内存 (GiB)",
  memoryPh: "取类型的值，否则 0.5",
  dataIn: "输入数据 (MB)",
  dataInPh: "取类型的值，否则 0",
  latency: "时延预算 (ms)",
  latencyPh: "取类型的值，否则无",
  taskClass: "类别",
  classDefault: "取类型的值，否则 warm",
  accelerator: "加速器",
  accelDefault: "取类型的值，否则无",
  submitTask: "提交任务",
  site: "站点",
  allSites: "全部站点",
  none: "无",
  colSite: "站点",
  colCores: "核数",
  colMem: "内存 GiB",
  colAccel: "加速器",
  colCpuLoad: "CPU 负载",
  colMemLoad: "内存负载",
  scenario: "场景",
  duration: "时长 (s)",
  profiles: "要比较的策略",
  runTwin: "运行孪生",
  noTasks: "没有任务",
  noneOnPage: "本页没有任务，共 {total} 个",
  showing: "显示 {n} 个，共 {total} 个，最新的在前",
  showingRange: "显示第 {from}–{to} 个，共 {total} 个，最新的在前",
  mapStats: "{sites} 个站点 · {nodes} 个节点 · {links} 条链路",
  task: "任务 {id}",
  offline: "控制面自 {since} 起无应答，正在重试。所示内容为此前的数据。",
  tokenRefused: "令牌被拒绝：{why}",
  cannotLogIn: "无法登录：{why}",
  noNetwork: "无法加载网络：{why}",
  legendQuarantine: " 红色圆环标出有节点被隔离的站点。",
  unverified: "未验证",
  attested: "已证明",
  quarantined: "已隔离",
  quarantinedAt: "{n} 个节点被隔离",
  trustDeclared: "声明的信任等级 {level}（{name}）",
  trustEarned: "实得信任：",
  trustConsistent: "连续 {n} 次一致的证明",
  quarantineReason: "已隔离，不再向此处放置新任务。原因：{why}",
  quarantineStaff: "已隔离，不再向此处放置新任务。运维人员可查看原因。",
  claimedGflops: "声明的 fp64 峰值 (GFLOP/s)",
  measuredGflops: "最近一次证明测得 (GFLOP/s)",
  measuredRatio: "测得 / 声明",
  notMeasured: "尚未测量",
  trustNotShown: "未显示信任：{why}",
};

export const LANGUAGES = { en: EN, zh: ZH };

function initial() {
  const saved = localStorage.getItem(STORE);
  if (saved in LANGUAGES) return saved;
  return (navigator.language || "").toLowerCase().startsWith("zh") ? "zh" : "en";
}

let current = initial();

export const lang = () => current;

/** The text of ``key`` in the language chosen, with {name} filled from ``vars``. */
export function t(key, vars = {}) {
  const text = LANGUAGES[current][key] ?? EN[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

/** Every marked element under ``root`` in the language chosen. */
export function apply(root = document) {
  document.documentElement.lang = current === "zh" ? "zh-CN" : "en";
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll("[data-i18n-html]")) node.innerHTML = t(node.dataset.i18nHtml);
  for (const node of root.querySelectorAll("[data-i18n-ph]")) node.placeholder = t(node.dataset.i18nPh);
  for (const node of root.querySelectorAll("[data-i18n-aria]")) {
    node.setAttribute("aria-label", t(node.dataset.i18nAria));
  }
}

/** Switch (and remember) the language; listeners of "langchange" redraw what scripts wrote. */
export function setLang(name) {
  if (!(name in LANGUAGES)) return;
  current = name;
  localStorage.setItem(STORE, name);
  apply();
  document.dispatchEvent(new Event("langchange"));
}
