package filter

import (
	"strings"
	"testing"
)

// ebEvent is an EC2 state-change event in EventBridge's envelope, with extra
// detail fields for the matching features.
const ebEvent = `{
  "version": "0",
  "id": "ddddd4-aaaa-7777-4444-345dd43cc333",
  "detail-type": "EC2 Instance State-change Notification",
  "source": "aws.ec2",
  "account": "012345679012",
  "time": "2017-10-02T16:24:49Z",
  "region": "us-east-1",
  "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
  "detail": {
    "c-count": 5,
    "d-count": 3,
    "x-limit": 301.8,
    "source-ip": "10.0.0.33",
    "source-ip6": "2001:db8::42",
    "instance-id": "i-000000aaaaaa00000",
    "state": "running",
    "FileName": "photo.PNG",
    "path": "/usr/lib/libc.so",
    "star": "a*b",
    "empty": "",
    "nothing": null,
    "enabled": false,
    "tags": ["prod", "web"],
    "codes": [200, 404],
    "nested": [["deep"]],
    "obj": {"inner": 1},
    "employees": [
      {"firstName": "John", "lastName": "Doe"},
      {"firstName": "Anna", "lastName": "Smith"},
      {"firstName": "Peter", "lastName": "Jones"}
    ]
  }
}`

func TestPatternMatch(t *testing.T) {
	tests := []struct {
		name    string
		pattern string
		event   string // defaults to ebEvent
		want    bool
	}{
		// Exact matching, values OR-ed, fields AND-ed.
		{"exact", `{"source":["aws.ec2"]}`, "", true},
		{"exact is case-sensitive", `{"source":["AWS.EC2"]}`, "", false},
		{"exact OR", `{"detail":{"state":["initializing","running"]}}`, "", true},
		{"fields AND one fails", `{"source":["aws.ec2"],"detail":{"state":["stopped"]}}`, "", false},
		{"missing field", `{"detail":{"nope":["x"]}}`, "", false},
		{"docs simple example", `{"detail-type":["EC2 Instance State-change Notification"],"resources":["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],"detail":{"state":["initializing","running"]}}`, "", true},
		{"exact number", `{"detail":{"c-count":[5]}}`, "", true},
		{"exact number by value", `{"detail":{"x-limit":[3.018e2]}}`, "", true},
		{"string does not match number", `{"detail":{"c-count":["5"]}}`, "", false},
		{"exact bool", `{"detail":{"enabled":[false]}}`, "", true},
		{"null matches null", `{"detail":{"nothing":[null]}}`, "", true},
		{"null does not match absent", `{"detail":{"absent":[null]}}`, "", false},
		{"null does not match empty string", `{"detail":{"empty":[null]}}`, "", false},
		{"empty string matches empty string", `{"detail":{"empty":[""]}}`, "", true},
		{"empty string does not match null", `{"detail":{"nothing":[""]}}`, "", false},
		// Arrays in the event: any element.
		{"array any element", `{"detail":{"tags":["web"]}}`, "", true},
		{"array no element", `{"detail":{"tags":["dev","test"]}}`, "", false},
		{"array numbers", `{"detail":{"codes":[{"numeric":[">=",400]}]}}`, "", true},
		{"nested arrays flattened", `{"detail":{"nested":["deep"]}}`, "", true},
		// Prefix, suffix and their ignore-case forms.
		{"prefix", `{"time":[{"prefix":"2017-10-02"}]}`, "", true},
		{"prefix miss", `{"time":[{"prefix":"2018"}]}`, "", false},
		{"prefix on number", `{"detail":{"c-count":[{"prefix":"5"}]}}`, "", false},
		{"prefix ignore case", `{"detail":{"state":[{"prefix":{"equals-ignore-case":"RUN"}}]}}`, "", true},
		{"prefix is case-sensitive", `{"detail":{"state":[{"prefix":"RUN"}]}}`, "", false},
		{"suffix", `{"source":[{"suffix":"ec2"}]}`, "", true},
		{"suffix case-sensitive", `{"detail":{"FileName":[{"suffix":".png"}]}}`, "", false},
		{"suffix ignore case", `{"detail":{"FileName":[{"suffix":{"equals-ignore-case":".png"}}]}}`, "", true},
		{"equals-ignore-case", `{"source":[{"equals-ignore-case":"AWS.EC2"}]}`, "", true},
		{"equals-ignore-case non-ASCII", `{"a":[{"equals-ignore-case":"ÄRGER"}]}`, `{"a":"ärger"}`, true},
		{"prefix ignore case non-ASCII", `{"a":[{"prefix":{"equals-ignore-case":"ÖL"}}]}`, `{"a":"öltank"}`, true},
		{"equals-ignore-case miss", `{"source":[{"equals-ignore-case":"aws.ec"}]}`, "", false},
		// anything-but.
		{"anything-but string", `{"detail":{"state":[{"anything-but":"initializing"}]}}`, "", true},
		{"anything-but string equal", `{"detail":{"state":[{"anything-but":"running"}]}}`, "", false},
		{"anything-but number", `{"detail":{"x-limit":[{"anything-but":123}]}}`, "", true},
		{"anything-but number equal", `{"detail":{"c-count":[{"anything-but":5}]}}`, "", false},
		{"anything-but string list", `{"detail":{"state":[{"anything-but":["stopped","overloaded"]}]}}`, "", true},
		{"anything-but string list hit", `{"detail":{"state":[{"anything-but":["stopped","running"]}]}}`, "", false},
		{"anything-but number list", `{"detail":{"x-limit":[{"anything-but":[100,200,300]}]}}`, "", true},
		{"anything-but number list hit", `{"detail":{"c-count":[{"anything-but":[1,5]}]}}`, "", false},
		{"anything-but absent field", `{"detail":{"nope":[{"anything-but":"x"}]}}`, "", false},
		{"anything-but prefix", `{"detail":{"state":[{"anything-but":{"prefix":"init"}}]}}`, "", true},
		{"anything-but prefix hit", `{"region":[{"anything-but":{"prefix":"us-"}}]}`, "", false},
		{"anything-but suffix", `{"detail":{"FileName":[{"anything-but":{"suffix":".png"}}]}}`, "", true},
		{"anything-but suffix hit", `{"detail":{"FileName":[{"anything-but":{"suffix":".PNG"}}]}}`, "", false},
		{"anything-but equals-ignore-case", `{"detail":{"state":[{"anything-but":{"equals-ignore-case":"RUNNING"}}]}}`, "", false},
		{"anything-but equals-ignore-case list", `{"detail":{"state":[{"anything-but":{"equals-ignore-case":["STOPPED","PENDING"]}}]}}`, "", true},
		{"anything-but wildcard", `{"detail":{"path":[{"anything-but":{"wildcard":"*/lib/*"}}]}}`, "", false},
		{"anything-but wildcard miss", `{"detail":{"path":[{"anything-but":{"wildcard":"*/bin/*"}}]}}`, "", true},
		{"anything-but array any element", `{"detail":{"tags":[{"anything-but":"prod"}]}}`, "", true},
		// numeric.
		{"numeric range", `{"detail":{"c-count":[{"numeric":[">",0,"<=",5]}]}}`, "", true},
		{"numeric upper exclusive", `{"detail":{"c-count":[{"numeric":[">",0,"<",5]}]}}`, "", false},
		{"numeric lower inclusive", `{"detail":{"c-count":[{"numeric":[">=",5]}]}}`, "", true},
		{"numeric lower exclusive", `{"detail":{"c-count":[{"numeric":[">",5]}]}}`, "", false},
		{"numeric less", `{"detail":{"d-count":[{"numeric":["<",10]}]}}`, "", true},
		{"numeric equals", `{"detail":{"x-limit":[{"numeric":["=",3.018e2]}]}}`, "", true},
		{"numeric equals miss", `{"detail":{"x-limit":[{"numeric":["=",301]}]}}`, "", false},
		{"numeric on string", `{"detail":{"state":[{"numeric":[">",0]}]}}`, "", false},
		{"numeric on numeric string", `{"detail":{"n":[{"numeric":[">",0]}]}}`, `{"detail":{"n":"5"}}`, false},
		// exists.
		{"exists true", `{"detail":{"c-count":[{"exists":true}]}}`, "", true},
		{"exists true absent", `{"detail":{"nope":[{"exists":true}]}}`, "", false},
		{"exists false absent", `{"detail":{"nope":[{"exists":false}]}}`, "", true},
		{"exists false present", `{"detail":{"c-count":[{"exists":false}]}}`, "", false},
		{"exists false on object (not a leaf)", `{"detail":{"obj":[{"exists":false}]}}`, "", true},
		{"exists true on object (not a leaf)", `{"detail":{"obj":[{"exists":true}]}}`, "", false},
		{"exists true on null", `{"detail":{"nothing":[{"exists":true}]}}`, "", true},
		{"exists false with absent parent", `{"nope":{"x":[{"exists":false}]}}`, "", true},
		{"exists false on empty array", `{"a":[{"exists":false}]}`, `{"a":[]}`, true},
		{"exists true on array", `{"detail":{"tags":[{"exists":true}]}}`, "", true},
		{"exists false OR value", `{"detail":{"state":[{"exists":false},"stopped"]}}`, "", false},
		// wildcard.
		{"wildcard", `{"source":[{"wildcard":"aws.*"}]}`, "", true},
		{"wildcard middle", `{"detail":{"path":[{"wildcard":"/usr/*/libc.*"}]}}`, "", true},
		{"wildcard several", `{"detail-type":[{"wildcard":"EC2*State*Notification"}]}`, "", true},
		{"wildcard no star is exact", `{"source":[{"wildcard":"aws.ec2"}]}`, "", true},
		{"wildcard miss", `{"source":[{"wildcard":"aws.s3*"}]}`, "", false},
		{"wildcard star matches empty", `{"source":[{"wildcard":"aws.ec2*"}]}`, "", true},
		{"wildcard overlapping pieces", `{"a":[{"wildcard":"ab*ba"}]}`, `{"a":"aba"}`, false},
		{"wildcard escaped star", `{"detail":{"star":[{"wildcard":"a\\*b"}]}}`, "", true},
		{"wildcard escaped star is literal", `{"a":[{"wildcard":"a\\*b"}]}`, `{"a":"axb"}`, false},
		{"wildcard escaped backslash", `{"a":[{"wildcard":"c:\\\\*"}]}`, `{"a":"c:\\temp"}`, true},
		// cidr.
		{"cidr v4", `{"detail":{"source-ip":[{"cidr":"10.0.0.0/24"}]}}`, "", true},
		{"cidr v4 miss", `{"detail":{"source-ip":[{"cidr":"10.0.1.0/24"}]}}`, "", false},
		{"cidr v4 host bits set", `{"detail":{"source-ip":[{"cidr":"10.0.0.7/8"}]}}`, "", true},
		{"cidr v6", `{"detail":{"source-ip6":[{"cidr":"2001:db8::/32"}]}}`, "", true},
		{"cidr v6 miss", `{"detail":{"source-ip6":[{"cidr":"2001:db9::/32"}]}}`, "", false},
		{"cidr v4 pattern v6 value", `{"detail":{"source-ip6":[{"cidr":"10.0.0.0/8"}]}}`, "", false},
		{"cidr not an ip", `{"detail":{"state":[{"cidr":"10.0.0.0/8"}]}}`, "", false},
		{"cidr v4-mapped v6 value", `{"ip":[{"cidr":"10.0.0.0/8"}]}`, `{"ip":"::ffff:10.1.2.3"}`, true},
		// $or.
		{"$or first", `{"source":["aws.ec2"],"$or":[{"detail":{"state":["running"]}},{"region":["eu-west-1"]}]}`, "", true},
		{"$or second", `{"$or":[{"detail":{"state":["stopped"]}},{"region":["us-east-1"]}]}`, "", true},
		{"$or none", `{"$or":[{"detail":{"state":["stopped"]}},{"region":["eu-west-1"]}]}`, "", false},
		{"$or AND sibling fails", `{"source":["aws.s3"],"$or":[{"region":["us-east-1"]},{"account":["1"]}]}`, "", false},
		{"$or nested in detail", `{"detail":{"$or":[{"c-count":[{"numeric":[">",10]}]},{"d-count":[3]}]}}`, "", true},
		{"$or nested $or", `{"$or":[{"region":["eu-west-1"]},{"source":["aws.ec2"],"$or":[{"detail":{"state":["x"]}},{"detail":{"c-count":[5]}}]}]}`, "", true},
		{"$or nested $or fails", `{"$or":[{"region":["eu-west-1"]},{"source":["aws.ec2"],"$or":[{"detail":{"state":["x"]}},{"detail":{"c-count":[6]}}]}]}`, "", false},
		{"$or object is a field name", `{"$or":{"a":["b"]}}`, `{"$or":{"a":"b"}}`, true},
		// Arrays of objects: fields matched within one element.
		{"array of objects", `{"detail":{"employees":{"firstName":["Anna"]}}}`, "", true},
		{"array of objects same element", `{"detail":{"employees":{"firstName":["Anna"],"lastName":["Smith"]}}}`, "", true},
		{"array of objects different elements", `{"detail":{"employees":{"firstName":["Anna"],"lastName":["Jones"]}}}`, "", false},
		{"array of arrays of objects", `{"e":{"n":["b"]}}`, `{"e":[[{"n":"a"}],[{"n":"b"}]]}`, true},
		{"$or inside array element", `{"detail":{"employees":{"firstName":["Peter"],"$or":[{"lastName":["Doe"]},{"lastName":["Jones"]}]}}}`, "", true},
		// Works on Event Grid / CloudEvents envelopes too: it is just JSON.
		{"on CloudEvents", `{"type":["com.example.someevent"],"data":{"appinfoB":[{"numeric":[">",100]}]}}`, ceEvent, true},
		{"on Event Grid", `{"eventType":[{"prefix":"Microsoft.Storage."}],"data":{"tags":["Blue"]}}`, egEvent, true},
		{"nested pattern on scalar", `{"source":{"x":["y"]}}`, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := CompilePattern([]byte(tt.pattern))
			if err != nil {
				t.Fatalf("CompilePattern: %v", err)
			}
			ev := tt.event
			if ev == "" {
				ev = ebEvent
			}
			if got := p.Match(mustDoc(t, ev)); got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCompilePatternErrors(t *testing.T) {
	tests := []struct {
		name, pattern, want string
	}{
		{"truncated", `{"source":["aws.ec2"`, "invalid JSON: truncated at byte 20"},
		{"syntax error", `{"source":["aws.ec2",]}`, "invalid JSON: at byte 22"},
		{"trailing data", `{"a":["b"]} x`, "invalid JSON: at byte 12: trailing data"},
		{"not an object", `["aws.ec2"]`, "$: must be a JSON object"},
		{"empty pattern", `{}`, "$: empty object"},
		{"non-array leaf", `{"detail":{"state":"running"}}`, "detail.state: must be an array"},
		{"number leaf", `{"source":5}`, "source: must be an array"},
		{"empty array", `{"source":[]}`, "source: empty array"},
		{"empty nested object", `{"detail":{}}`, "detail: empty object"},
		{"unknown operator", `{"detail":{"x":[{"foo":1}]}}`, `detail.x[0].foo: unknown operator "foo"`},
		{"two operators", `{"a":[{"prefix":"a","suffix":"b"}]}`, "a[0]: a matcher object needs exactly one operator"},
		{"nested array", `{"a":[["b"]]}`, "a[0]: nested arrays"},
		{"prefix not string", `{"a":[{"prefix":5}]}`, "a[0].prefix: needs a string"},
		{"prefix bad nested", `{"a":[{"prefix":{"wildcard":"x"}}]}`, "a[0].prefix: only"},
		{"exists not bool", `{"a":[{"exists":"yes"}]}`, "a[0].exists: needs true or false"},
		{"numeric bad op", `{"a":[{"numeric":["!=",1]}]}`, `a[0].numeric[0]: unknown numeric operator "!="`},
		{"numeric odd length", `{"a":[{"numeric":[">",1,"<"]}]}`, "a[0].numeric: needs"},
		{"numeric string value", `{"a":[{"numeric":[">","1"]}]}`, "a[0].numeric[1]: needs a number"},
		{"numeric two lower", `{"a":[{"numeric":[">",1,">=",2]}]}`, "a[0].numeric[2]: lower bound given twice"},
		{"numeric empty range", `{"a":[{"numeric":[">",5,"<",1]}]}`, "a[0].numeric: empty range"},
		{"numeric out of range", `{"a":[{"numeric":["<",6e9]}]}`, "a[0].numeric[1]: 6e9 is outside"},
		{"numeric equals combined", `{"a":[{"numeric":["=",1,"<",2]}]}`, `a[0].numeric[0]: "=" cannot be combined`},
		{"cidr bad", `{"a":[{"cidr":"10.0.0.300/8"}]}`, "a[0].cidr: bad CIDR block"},
		{"cidr no length", `{"a":[{"cidr":"10.0.0.1"}]}`, "a[0].cidr: bad CIDR block"},
		{"wildcard consecutive", `{"a":[{"wildcard":"a**b"}]}`, "a[0].wildcard: wildcard \"a**b\": consecutive"},
		{"wildcard bad escape", `{"a":[{"wildcard":"a\\b"}]}`, "a[0].wildcard: wildcard \"a\\\\b\": backslash"},
		{"anything-but mixed list", `{"a":[{"anything-but":["x",1]}]}`, "a[0].anything-but: list must hold only strings or only numbers"},
		{"anything-but bool", `{"a":[{"anything-but":true}]}`, "a[0].anything-but: needs"},
		{"anything-but unknown", `{"a":[{"anything-but":{"numeric":[">",1]}}]}`, `a[0].anything-but.numeric: unknown operator "numeric" inside anything-but`},
		{"$or one alternative", `{"$or":[{"a":["b"]}]}`, "$or: needs at least 2 alternatives"},
		{"$or non-object alternative", `{"$or":[{"a":["b"]},"c"]}`, "$or[1]: $or alternative must be an object"},
		{"$or bad inner", `{"detail":{"$or":[{"a":["b"]},{"c":"d"}]}}`, "detail.$or[1].c: must be an array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := CompilePattern([]byte(tt.pattern))
			if err == nil {
				t.Fatalf("CompilePattern succeeded, want error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}
