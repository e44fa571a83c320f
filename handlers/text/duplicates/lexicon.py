"""The detector's words: the kinds of question, the contrast marks, the glossary and the words that say how a
question is asked rather than what. Data only; :mod:`.features` compiles and applies it.

Why apart: these lists grow with every set of learners' questions the detector is checked on, and read best
without the code between them. Each list says in its comment why it holds what it holds.
"""

from __future__ import annotations

# The kind of question asked. A question may ask two things ("什么是 KV cache，为什么能加速"); two questions
# whose kinds are both known and differ ask different things.
ASKS: dict[str, str] = {
    # "when" before a subject or an -ing form joins two clauses ("freeze it when fine-tuning", "OOM when I run
    # it"): it asks when only as in "when is", "when do".
    "when": r"什么时候|啥时候|什么时间|啥时间|何时|几时|几点|几号|哪天|周几|星期几|礼拜几|\bwhat (?:time|date|day)\b"
    r"|\bwhen\b(?! (?:i|we|you|it|they|fine ?tuning|\w+ing)\b)",
    "where": r"哪里|哪儿|在哪(?!天)|到哪|去哪|哪能|哪找|哪下|哪边|什么地方|\bwhere\b",
    "why": r"为什么|为啥|为何|怎么会|咋会|原因|\bwhat causes\b|\bwhat(?:'s| is) causing\b|好处|意义"
    r"|有什么用|有啥用|有什么效果|有啥效果|有什么影响|有啥影响|会怎样|会怎么样"
    r"|\bwhy\b|\bhow come\b|\bbenefits?\b|\bpoint of\b",
    # What to set a setting to: how to choose it, not how many of something ("rank 设多少" / "rank 怎么选").
    "value": r"设(?:置|置成|置为|成|为)?(?:多少|多大)|[取选](?:多少|多大)|调(?:到|成)?多少",
    # (好几个 is "several", 晚几天交 "hand in a few days late": neither asks how many)
    "amount": r"多少|(?<!好)几个|几张|几块|几条|(?<![晚前这那])几天|几周|几次|几遍|多大|多久|多长"
    r"|怎么算|怎么计算|如何计算|公式"
    r"|\bhow (?:many|much|long|big)\b|\bhow to (?:compute|calculate)\b|\bformula\b",
    "which": r"哪个|哪种|哪一|哪家|哪款|哪[张块台位条本门节]|还是|怎么选|如何选|选哪|选什么|\bwhich\b|\bor\b"
    r"|\bhow (?:do i |to |should i )?(?:pick|choose)\b",
    "who": r"谁|\bwho\b",
    "whether": r"吗|有没有|是不是|能不能|会不会|可不可以|要不要|是否|能否|可否"
    r"|^(?:is|are|can|could|do|does|did|will|would|should|has|have|any)\b",
}
# Kinds that ask for one thing: a question asking one of them and a question asking none of them differ
# ("直播有回放吗" / "回放什么时候上传", "MoE 是什么" / "MoE 为什么快"). The open kinds (what or how, and
# yes-or-no) are how learners phrase a request to explain ("能讲讲 RoPE 吗" / "RoPE 的原理是什么"), so they do
# not tell questions apart.
FACTS = frozenset({"when", "where", "amount", "who", "why"})

# An action and its opposite: the rest of such a pair's wording is the same, and a few characters or a prefix
# ("卸载" / "安装", "un-", "de-") carry the whole difference, which overlap of wording cannot weigh. Each side is
# also one glossary term (see GLOSSARY), so "disable", "turn off" and "关闭" are one word. Words that mean
# something else in a programming course stay out ("raise" an exception, an editor's "extension").
OPPOSITES: dict[str, dict[str, str]] = {
    "setup": {
        "安装": r"(?:re)?install(?:s|ed|ing|ation|er|ers)?\b|set ?up|安装|重装|装",
        "卸载": r"uninstall(?:s|ed|ing|ation)?\b|卸载|删掉",
    },
    "toggle": {
        "开启": r"enabl(?:e|es|ed|ing)\b|turn(?:s|ed)? on\b|switch(?:es|ed)? on\b|开启|启用|打开|开了",
        "关闭": r"disabl(?:e|es|ed|ing)\b|turn(?:s|ed)? off\b|switch(?:es|ed)? off\b|关闭|禁用|关掉",
    },
    "scale": {
        "调大": r"increas(?:e|es|ed|ing)\b|\bhigher\b|高很多|高得多|更高|偏高"
        r"|调大|改大|增大|增加|加大|提高|调高|变大|上升|升高",
        "调小": r"decreas(?:e|es|ed|ing)\b|reduc(?:e|es|ed|ing)\b|lower\b"
        r"|低很多|低得多|更低|偏低|调小|改小|减小|减少|降低|调低|变小|下降"
        r"|降(?=[了不到得]|下去)",  # "不降了", "降不下去"
    },
    "transfer": {
        "导入": r"import(?:s|ed|ing)?\b|导入",
        "导出": r"export(?:s|ed|ing)?\b|导出",
    },
    "coder": {
        "编码器": r"encoders?\b|编码器",
        "解码器": r"decoders?\b|解码器",
    },
    "extent": {
        "过大": r"too (?:big|large|many|much|high)\b|太大|过大|太多|过多|太高|过高",
        "过小": r"too (?:small|few|little|low)\b|太小|过小|太少|过少|太低|过低",
    },
    "membership": {
        "加入": r"\bjoin(?:s|ed|ing)?\b|加入|进群",
        "退出": r"\bleav(?:e|es|ing)\b|\bquit(?:s|ting)?\b|退出|退群",
    },
    "decision": {
        "批准": r"批准|\bapprov(?:e|ed|al)\b",
        "被拒": r"被拒|拒绝|驳回|\breject(?:s|ed|ion)?\b|\bdenied\b",
    },
    "resubmit": {
        # late is a late submission only with one ("is it too late to switch groups" is not)
        "迟交": r"(?:submit(?:ted)?|hand(?:ed)? in|turn(?:ed)? in) (?:\w+ )?late\b|\blate (?:submission|penalt)"
        r"|迟交|晚交|补交|延期|逾期|晚(?:几|一|两)天|晚点交|晚些交",
        "重交": r"resubmit(?:s|ted|ting)?\b|重交|重新提交|重新交|再交",
    },
}
# Named things of one kind that make another question when swapped, and the opposites above.
KINDS: dict[str, dict[str, str]] = {
    "os": {
        "windows": r"\bwindows\b|\bwin ?\d*\b|微软",
        "linux": r"\blinux\b|\bubuntu\b|\bcentos\b|\bdebian\b",
        "mac": r"\bmac(?:os|book)?\b|\bm[1-4]\b|苹果|\bapple\b",
        "wsl": r"\bwsl\d*\b",
        "android": r"\bandroid\b|安卓",
        "ios": r"\bios\b",
    },
    "framework": {
        "pytorch": r"\b(?:py)?torch\b",
        "tensorflow": r"\btensorflow\b|\btf\b",
        "jax": r"\bjax\b",
        "paddle": r"\bpaddle(?:paddle)?\b|飞桨",
        "mindspore": r"\bmindspore\b",
    },
    # Which data a figure is measured on: "training loss" and "validation loss" are two questions. Before the
    # phases, which would take "training".
    "split": {
        "train": r"\btrain(?:ing)? (?:loss|set|data|accuracy|acc)\b|训练集|训练 ?loss|训练损失",
        "val": r"\bval(?:idation)? (?:loss|set|data|accuracy|acc)\b|验证集|验证 ?loss|验证损失",
        "test": r"\btest (?:loss|set|data|accuracy|acc)\b|测试集|测试 ?loss|测试损失",
    },
    "phase": {
        "train": r"训练|微调|\btrain(?:ing|ed)?\b|\bfine ?tun(?:e|ing|ed)\b|\bsft\b",
        "infer": r"推理|部署|\binference\b|\binfer\b|\bserving\b|\bdecod(?:e|ing)\b",
        "eval": r"\beval(?:s|uation|uating)?\b|评估时|评测时|验证时",
    },
    "device": {
        "cpu": r"\bcpu\b",
        "multigpu": r"\bmulti ?gpus?\b|\bmultiple gpus\b|多卡|多显卡|多张显卡|多块显卡|多张卡|多块卡",
        "gpu": r"\bgpu\b|显卡|独显|\bcuda\b|(?<=gb )cards?\b",  # "a 24GB card"
        "npu": r"\bnpu\b|昇腾|\bascend\b",
        "tpu": r"\btpu\b",
    },
    "language": {
        "zh": r"\bchinese\b|中文|汉语|汉字",
        "en": r"\benglish\b|英文|英语",
    },
    "exam": {
        "final": r"期末|\bfinal exams?\b|\bfinals\b",
        "midterm": r"期中|\bmid-?terms?\b",
    },
    # What a method is asked to be better at: "为什么更快" and "为什么更省显存" are two questions.
    "gain": {
        "speed": r"更快|变快|快在|加速|提速|\bfaster\b|\bspeeds? ?up\b",
        "memory": r"省显存|节省显存|显存更少|显存更小|\bless memory\b|\bsaves? memory\b|\bmemory[- ]efficient\b",
    },
    # Which week, and which end of a model, in the one or two characters that carry them ("本周" / "下周",
    # "前几层" / "后几层"): the rest of the two questions reads the same.
    "week": {
        "this": r"\bthis week\b|本周|这周|这星期|这礼拜",
        "next": r"\bnext week\b|下周|下星期|下礼拜",
        "last": r"\blast week\b|上周|上星期|上礼拜",
    },
    # Which day, which bound, which side of an event, which decision: one word carries each ("周三" / "周五",
    # "最多" / "最少", "before" / "after", "批准后" / "被拒后").
    "weekday": {
        "mon": r"周一|星期一|礼拜一|\bmon(?:day)?\b",
        "tue": r"周二|星期二|礼拜二|\btue(?:s|sday)?\b",
        "wed": r"周三|星期三|礼拜三|\bwed(?:nesday)?\b",
        "thu": r"周四|星期四|礼拜四|\bthu(?:rs|rsday)?\b",
        "fri": r"周五|星期五|礼拜五|\bfri(?:day)?\b",
        "sat": r"周六|星期六|礼拜六|\bsat(?:urday)?\b",
        "sun": r"周日|周天|星期日|星期天|礼拜天|\bsun(?:day)?\b",
    },
    "bound": {
        "max": r"最多|最大|上限|\bat most\b|\bmaximum\b",
        "min": r"最少|最小|下限|\bat least\b|\bminimum\b",
    },
    "order": {
        "before": r"\bbefore\b|之前|以前",
        "after": r"\bafter\b|之后|以后",
    },
    "age": {
        "newer": r"太新|较新|更新的版本|新版本?|最新版?|\bnewer\b|\btoo new\b|\blatest\b",
        "older": r"太旧|较旧|旧版本?|老版本|太老|\bolder\b|\btoo old\b|\boutdated\b",
    },
    "end": {
        "first": r"\bfirst (?:few |\d+ )?layers\b|前面几层|前几层|前面的层|浅层",
        "last": r"\blast (?:few |\d+ )?layers\b|后面几层|后几层|最后几层|后面的层|深层",
    },
    **OPPOSITES,
}

# One spelling for the course words learners write in several ways (and in both languages), longest first.
GLOSSARY: dict[str, str] = {
    # Before 显存: "显存不够" is running out of memory, as "CUDA out of memory" is (the error's name, not a device).
    "oom": r"(?:cuda )?out of memory|\boom\b|爆显存|显存不够|显存不足",
    "显存": r"gpu mem(?:ory)?\b|vram|显存|video memory",
    "显卡": r"\bgpus?\b|显卡|独显|graphics card|(?<=gb )cards?\b",
    "微调": r"fine ?tun(?:e|ing|ed)|finetun(?:e|ing|ed)|微调",
    "全量微调": r"full (?:parameter )?微调|全量微调|全参数微调|全参数训练|全参微调",
    # The field's names for one thing, in English, in Chinese and abbreviated (one word each: a learner who writes
    # 连续批处理 asks what one who writes "continuous batching" asks).
    "指令微调": r"\bsft\b|supervised fine ?tun(?:e|ing)|指令微调",
    "连续批处理": r"continuous batching|连续批处理",
    "kv缓存": r"\bkv ?cache|\bkv ?缓存",
    "检索增强": r"\brag\b|retrieval[- ]augmented generation|检索增强生成|检索增强",
    "梯度检查点": r"(?:gradient|grad|activation) checkpointing|梯度检查点|激活检查点|激活重计算",
    "投机解码": r"spec(?:ulative)? decoding|投机解码|推测解码",
    "混合精度": r"mixed precision|混合精度",
    "混合专家": r"\bmoe\b|mixture of experts|混合专家|专家混合",
    "旋转位置编码": r"\brope\b|rotary (?:position(?:al)? )?(?:embedding|encoding)s?|旋转位置编码",
    "位置编码": r"\bposition(?:al)? (?:embedding|encoding)s?|位置编码",
    "分词器": r"\btokenizers?\b|分词器",
    "学习路线": r"learning (?:path|roadmap)|\broadmap\b|学习路线|学习路径",
    "学习群": r"学习群|交流群|微信群",
    "作业": r"home ?work|assignments?|作业",
    "课件": r"slides?|\bppt\b|课件|讲义",
    "回放": r"\brecord(?:s|ed|ing|ings)?\b|\bvideos?\b|录播|回放|录像|录屏|视频",
    "直播": r"live ?stream|live (?:session|class|lecture)|直播",
    "答疑": r"office (?:hours?|hrs?)\b|答疑",
    "证书": r"certificates?|证书",
    "注意力": r"attention|\battn\b|注意力",  # flash-attn is the package of flash attention
    "量化": r"quantization|quantize|量化",
    "区别": r"difference|different(?=$| from\b| between\b)|区别|差别|不同|差异|差在(?=哪)|\bvs\b|\bversus\b",
    "上下文": r"context|上下文",
    "ddp": r"\bddp\b|distributed ?data ?parallel",  # before 分布式: one API, not distribution in general
    "分布式": r"distributed|分布式",
    "多卡": KINDS["device"]["multigpu"],  # a device mark, and one word however it is written
    "原理": r"\bworks?\b|原理|机制|怎么回事|怎么理解|理解|讲讲|讲一下|解释|介绍|作用|\bexplain\b|\bmean\b",
    "加速": r"speed(?:s)? up|faster|加速|快",
    "基础": r"background|prerequisites?|前置知识|基础",
    "模型": r"\bmodels?\b|模型",
    "评估": r"evaluat(?:e|ion)|评估|评测",
    "数据集": r"\bdatasets?\b|数据集",  # before 数据: a dataset is not "data" in general
    "数据": r"\bdata\b|数据",
    # A model's weights, not weight decay (权重衰减), which is a setting of the optimizer.
    "权重": r"\bweights\b|\bcheckpoints?\b|\bckpt\b|权重(?!衰减)",
    # How an exam is held: one word each, so that "开卷还是闭卷" and "线上还是线下" name different things (not
    # marks: a question naming both sides, "开卷还是闭卷", is the same as one naming one, "是开卷考吗").
    "开卷": r"open[- ]book|开卷|翻书",
    "闭卷": r"closed[- ]book|闭卷",
    "线上": r"\bonline\b|线上",
    "线下": r"\boffline\b|\bin[- ]person\b|线下",
    # Course words learners write in either language.
    "梯度累积": r"gradient accumulation|梯度累积|梯度累加",
    "学习率": r"learning rate|\blr\b|学习率",
    "采样": r"\bsampling\b|采样",
    "候补": r"候补|等候名单|\bwait ?list(?:ed)?\b",
    "通信": r"通信|通讯|\bcommunication\b",
    "公布": r"公布|放出来|\breleas(?:e|ed|es)\b|\bpublish(?:ed)?\b",
    "工具": r"\btools?\b|工具",
    "allreduce": r"\ball ?reduce\b",
    "week": r"\bw(?:ee)?ks?(?![a-z])",  # wk6
    "rank": r"\brank(?: r)?\b|(?<=lora )r\b|秩",  # LoRA's r is its rank
    "惩罚": r"\bpenalt(?:y|ies)\b|惩罚",
    "变慢": r"变慢|速度下降|速度变慢|速度慢|慢|\bslow(?:er|s|ed| down)?\b",
    "利用率": r"\butil(?:ization|isation)?\b|利用率|使用率|占用率",
    "自动": r"\bauto(?:matic|matically)?\b|自动",
    "site": r"\b(?:web ?)?sites?\b",
    "教材": r"\btext ?books?\b|教材|参考书|课本",
    "复现": r"\breproduc(?:e|es|ed|ing|ible|ibility|tion)\b|复现",
    "继续": r"\bresum(?:e|es|ed|ing)\b|\bcontinu(?:e|es|ed|ing)\b|继续|断点续训",
    "切分": r"\bsplit(?:s|ting)?\b|\bbreak(?:s|ing)? (?:\w+ )*?into\b|切分|切成|分成|拆成",
    "notebook": r"jupyter notebooks?|\bipynb\b|\bnotebooks?\b|\bjupyter\b",
    "sin": r"\bsin(?:e|usoidal)?\b|正弦",
    "cos": r"\bcos(?:ine)?\b|余弦",
    "超时": r"\btime ?outs?\b|\btimed out\b|超时",
    "版本": r"\bversions?\b|版本",
    "环境": r"\benv(?:ironment)?s?\b|环境",
    "阶段": r"\bstages?\b|阶段",
    # (?<![a-z0-9]), not \b: a Chinese character before the number is a word character to \b ("成4bit").
    "int4": r"(?<![a-z0-9])(?:int ?4|4 ?-?bits?\b|4 ?位|4 ?比特)",
    "int8": r"(?<![a-z0-9])(?:int ?8|8 ?-?bits?\b|8 ?位|8 ?比特)",
    "bf16": r"\bbf ?16\b|\bbfloat ?16\b",
    "fp16": r"\bfp ?16\b|\bfloat ?16\b|半精度",
    "效果": r"效果|好坏",
    "结课": r"结课|课程结束|课结束|完成课程|学完|修完",
    # The phases as words (their marks, see KINDS["phase"], keep training and inference apart): named on one side
    # only they say where a question is asked from more than what it asks ("混合精度训练有什么好处").
    "预训练": r"\bpre-?train(?:s|ing|ed)?\b|预训练",  # before 训练: pretraining is not training in general
    "训练": r"\btrain(?:s|ing|ed)?\b|训练",
    "推理": r"\binference\b|推理",
    "批大小": r"batch ?sizes?|\bbs\b|批大小|批量大小|批次大小",
    "保存": r"\bsav(?:e|es|ed|ing)\b|保存|存下来|存盘|存成|存到",
    "层": r"\blayers?\b|层",
    "开会": r"开会|碰头|碰面|见面|\bmeet(?:s|ing|ings|up)?\b",
    "代码": r"\bcode\b|源码|代码",
    "截止": r"deadline|\bdue\b|截止|ddl",
    # 交 alone is "hand in" where it ends the question or leads to what is handed in, not inside 交叉 or 交流.
    "提交": r"submit|upload|\bpush(?:es|ed|ing)?\b|hand(?:ed|ing)? in\b|提交|上传|交(?=$|[\s作到给吗了啊呢的去完上])",
    "成绩": r"grades?\b|graded\b|成绩|评分|打分|分数",
    "冻结": r"freez(?:e|es|ing)\b|frozen\b|冻结|冻住",
    "占用": r"占用|占",
    "张量并行": r"tensor parallel(?:ism)?|张量并行|\btp\b",
    "流水线并行": r"pipeline parallel(?:ism)?|流水线并行|\bpp\b",
    "下载": r"download|下载",
    "反馈": r"report(?:s|ed|ing)?\b|反馈",  # reporting a bug is not getting the code it is in
    "调试": r"\bdebug(?:s|ged|ging)?\b|调试|排查",
    **{name: pattern for sides in OPPOSITES.values() for name, pattern in sides.items()},
}
# Terms that say which aspect of a subject is asked about, not the subject: they count for less (see weight()).
ASPECTS = frozenset({"区别", "安装", "原理", "加速", "模型", "评估", "数据", "下载", "提交", "成绩", "反馈"})
# Aspects that are something done with the subject: two questions that each do something the other does not
# ask two things ("where do I download the starter code" / "where do I report a bug in it").
ACTS = frozenset({"安装", "下载", "提交", "反馈", "调试"})
GENERIC = frozenset(
    [
        "pip",
        "conda",
        "fix",
        "error",
        "fail",
        "build",
        "run",
        "work",
        "course",
        "lesson",
        "class",
        "problem",
        "issue",
        "question",
        "课程",
        "这门",
        "门课",
        "报错",
        "解决",
        "处理",
        "问题",
        "原因",
        "情况",
        "方法",
        "办法",
        "东西",
        "理解",
        "知道",
        "学习",
        "介绍",
        "讲讲",
        "解释",
        "一个",
        "成功",
        "失败",
        "训练",
        "推理",
        "时间",
        "跑",
        "运行",
        "参数",
        "param",
        "parameter",
    ]
)

# Words that say how something is asked, not what: left out of the content terms (the kind of question is a mark).
EN_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "am",
        "do",
        "does",
        "did",
        "can",
        "could",
        "will",
        "would",
        "should",
        "shall",
        "may",
        "might",
        "must",
        "i",
        "we",
        "you",
        "u",
        "me",
        "my",
        "our",
        "your",
        "it",
        "its",
        "they",
        "them",
        "their",
        "this",
        "that",
        "these",
        "those",
        "to",
        "of",
        "in",
        "on",
        "for",
        "with",
        "and",
        "or",
        "at",
        "by",
        "from",
        "as",
        "about",
        "into",
        "any",
        "some",
        "there",
        "here",
        "what",
        "how",
        "why",
        "when",
        "where",
        "which",
        "who",
        "whom",
        "whose",
        "s",
        "t",
        "get",
        "got",
        "need",
        "want",
        "have",
        "has",
        "had",
        "just",
        "really",
        "exactly",
        "actually",
        "anyone",
        "someone",
        "explain",
        "tell",
        "please",
        "way",
        "ways",
        "one",
        "use",
        "using",
        "used",
        "there's",
        "it's",
        "what's",
        "how's",
        "i'm",
        "should",
        "we",
        "then",
        "than",
        "so",
        "if",
        "not",
        "no",
        "yes",
        "also",
        "very",
        "too",
        "much",
        "many",
        "long",
        "after",
        "before",
        "during",
        "between",
        "step",
        "steps",
        "ppl",
        "date",
        "held",
        "enough",
        "best",
        "single",
        "few",
        "become",
        "becomes",
        "became",
        "go",
        "goes",
        "went",
        "find",
        "back",
        "provide",
        "provides",
        "provided",
        "offer",
        "offers",
        "ok",
        "okay",
        "pick",
        "choose",
        "weird",
        "strange",
        "own",
        "real",
        "last",
        "now",
        "whats",
        "hows",
        "wheres",
        "normal",
        "typical",
        "usual",
        "people",
        "usually",
    ]
)

# Chinese words that say how something is asked, not what, as one alternation (see features._ZH_STOP).
ZH_STOP = (
    # (Tried longest first, whatever the order here (features._ZH_STOP sorts them): "要不要" before "要", so its 不
    # goes with it, and "我们" before "我".)
    r"要不要|是不是|会不会|可不可以|需不需要|用不用|"
    r"什么时候|啥时候|为什么|为啥|怎么样|怎么办|怎么|怎样|如何|什么|啥|哪里|哪儿|哪个|哪些|哪|多少|几|咋"
    r"|吗|呢|吧|啊|呀|嘛|么|的|了|地|得|是|我|你|您|他|我们|大家|这个|那个|这|那|一下|一些|有没有|能不能"
    r"|这门课|这个课|这节课|本课|课程|这门|门课"
    r"|可以|能|会|要|想|在|和|跟|与|还是|或者|到底|一般|应该|需要|请|有|就|都|也|还|又|给|把|被|对|比|上|下|里"
    # How a learner asks, not what: "能通俗讲讲吗", "没看懂", "突然", "一直", "再解释一下". As characters they read as
    # subjects one rewording names and the other does not, and kept apart most rewordings in Chinese. (简单 too,
    # since "能简单介绍一下 RAG 吗" names less than "RAG 和微调怎么选", which the narrow rule of the detector sees.)
    r"|通俗|没看懂|看不懂|没懂|不懂|具体|详细|大概|简单|突然|一直|老是|总是|麻烦|再|时候|合适|比较好|多大"
    r"|有人遇到过|有没有人|遇到过"
    r"|该|比较|周几|星期几|礼拜几|起来|咋办|咋整|咋弄|分别|设置成|设置为|设成|设为|更(?![新改换])|很|支持|变成|出现|现在|取(?=[多几值])|之后|以后"
)
