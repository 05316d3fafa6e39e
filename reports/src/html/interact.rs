//! The pages' small inline script: values under the pointer, drag-to-zoom on the time axis
//! (every chart of the page together) and series toggles from the legends. The charts are
//! complete SVG without it; the script only reads what the SVG holds (each time chart's
//! `data-plot`, `data-x` and `data-y`, the legends' `data-c` colours) and adds interaction.
//!
//! It also leaves marks a headless browser can check in the dumped DOM (`tests/browser.rs`):
//! `data-script-errors` on `<html>` when anything threw, and on `<body>` `data-interactive`,
//! the number of charts it set up, the result of a simulated hover and zoom, and the width of
//! the widest table.

use std::fmt::Write as _;

/// The script's styles: the tooltip, the zoom bar and a switched-off legend entry.
pub(super) const CSS: &str = "\
.tip{position:fixed;z-index:9;background:#fff;border:1px solid #999;border-radius:3px;padding:4px 8px;font-size:13px;pointer-events:none;box-shadow:0 1px 4px #0003;white-space:nowrap}
.tip b{font-weight:600}
.zoombar{position:sticky;top:0;z-index:8;background:#fffffff0;border-bottom:1px solid #ddd;padding:4px 0;font-size:13px}
.zoombar button{font-size:13px;margin-left:8px}
ul.legend li[data-c]{cursor:pointer}
ul.legend li.off{opacity:0.35;text-decoration:line-through}
";

const SCRIPT: &str = r#"(function(){
var d=document,root=d.documentElement,body=d.body,errs=[];
window.addEventListener('error',function(e){errs.push(String(e.message));root.setAttribute('data-script-errors',errs.join(' | '));});
function nums(s){return (s||'').trim().split(/\s+/).map(Number);}
function lc(s){return (s||'').toLowerCase();}
function fmt(v){var a=Math.abs(v);return a>=100?v.toFixed(0):a>=10?v.toFixed(1):a>=1?v.toFixed(2):v.toFixed(3);}
var charts=[],zoom=null,tip=d.createElement('div');tip.className='tip';tip.hidden=true;body.appendChild(tip);
var bar=d.createElement('div');bar.className='zoombar';
var help='Drag across a chart to zoom every chart to that time range; Shift-drag up or down to zoom one chart&#39;s values; click a legend entry to hide its line.';
bar.innerHTML='<span>'+help+'</span><button type="button">reset zoom</button>';
var svgs=d.querySelectorAll('svg.ts');
if(svgs.length){var h=d.querySelector('h2');body.insertBefore(bar,h||body.firstChild);}
bar.querySelector('button').onclick=function(){charts.forEach(function(c){c.setY(null);});setZoom(null);};
function el(svg,name,attrs){var e=d.createElementNS(svg.namespaceURI,name);for(var k in attrs)e.setAttribute(k,attrs[k]);return e;}
function setup(svg,n){
  var P=nums(svg.getAttribute('data-plot')),X=nums(svg.getAttribute('data-x')),Y=nums(svg.getAttribute('data-y'));
  var fig=svg.closest('figure'),series=[],byColour={};
  (fig?fig.querySelectorAll('li[data-c]'):[]).forEach(function(li){
    var m=li.querySelector('.muted'),name=li.textContent.replace(m?m.textContent:'','').trim();
    var s={c:lc(li.getAttribute('data-c')),name:name,li:li,segs:[],els:[],on:true};series.push(s);byColour[s.c]=s;
    li.addEventListener('click',function(){s.on=!s.on;li.classList.toggle('off',!s.on);s.els.forEach(function(e){e.style.display=s.on?'':'none';});});
  });
  var moved=[],first=true;
  [].slice.call(svg.children).forEach(function(e){
    var t=e.tagName.toLowerCase(),stroke=lc(e.getAttribute('stroke')),fill=lc(e.getAttribute('fill'));
    if(t==='rect'&&first){first=false;return;}
    var data=(t==='polyline'&&stroke!=='#000000')||t==='circle'||t==='polygon'||t==='rect';
    if(!data)return;
    moved.push(e);
    var s=byColour[t==='polyline'?stroke:fill];
    if(s){s.els.push(e);
      if(t==='polyline'&&e.getAttribute('stroke-width')==='2'&&e.getAttribute('opacity')==='1'){var seg=[];nums(e.getAttribute('points').replace(/,/g,' ')).forEach(function(v,i,a){if(i%2===0&&i+1<a.length)seg.push([v,a[i+1]]);});if(seg.length)s.segs.push(seg);}
      if(t==='circle')s.segs.push([[+e.getAttribute('cx'),+e.getAttribute('cy')]]);}
    if(t==='polyline')e.setAttribute('vector-effect','non-scaling-stroke');
  });
  // The value of a series at pixel x: on a line, interpolated between its points; else the
  // nearest point within reach.
  function at(s,ox,reach){var best=null,dist=Infinity;
    s.segs.forEach(function(seg){
      for(var i=0;i+1<seg.length;i++){var a=seg[i],b=seg[i+1];if(a[0]<=ox&&ox<=b[0]){best=b[0]>a[0]?a[1]+(b[1]-a[1])*(ox-a[0])/(b[0]-a[0]):Math.min(a[1],b[1]);dist=0;}}
      seg.forEach(function(p){var dd=Math.abs(p[0]-ox);if(dd<dist&&dd<=reach){dist=dd;best=p[1];}});});
    return best;}
  var clip=el(svg,'clipPath',{id:'fl-clip-'+n});clip.appendChild(el(svg,'rect',{x:P[0],y:P[1],width:P[2]-P[0],height:P[3]-P[1]}));
  var outer=el(svg,'g',{'clip-path':'url(#fl-clip-'+n+')'}),inner=el(svg,'g',{});outer.appendChild(inner);
  if(moved.length)svg.insertBefore(outer,moved[0]);
  svg.insertBefore(clip,svg.firstChild);
  moved.forEach(function(e){inner.appendChild(e);});
  var ticks=[].slice.call(svg.querySelectorAll('text')).filter(function(t){var y=+t.getAttribute('y');return y>P[3]&&y<P[3]+30;});
  // The value axis: its labels and tick marks left of the plot, and the horizontal grid lines.
  var yaxis=[].slice.call(svg.querySelectorAll('text,polyline,line')).filter(function(e){var t=e.tagName.toLowerCase();
    if(t==='text')return +e.getAttribute('x')<P[0]&&e.getAttribute('text-anchor')==='end';
    if(t==='line')return e.getAttribute('y1')===e.getAttribute('y2')&&+e.getAttribute('x1')<=P[0]+1;
    var q=nums((e.getAttribute('points')||'').replace(/,/g,' '));return q.length===4&&q[1]===q[3]&&q[2]<=P[0]+1&&q[2]-q[0]<=6;});
  var yz=null,downY=null;
  var own=el(svg,'g',{'font-family':'sans-serif','font-size':'13','text-anchor':'middle'});svg.appendChild(own);
  var cursor=el(svg,'line',{y1:P[1],y2:P[3],stroke:'#333','stroke-width':1,'stroke-dasharray':'3 3',visibility:'hidden'});svg.appendChild(cursor);
  var sel=el(svg,'rect',{y:P[1],height:P[3]-P[1],fill:'#3182bd','fill-opacity':0.15,visibility:'hidden'});svg.appendChild(sel);
  var selY=el(svg,'rect',{x:P[0],width:P[2]-P[0],fill:'#3182bd','fill-opacity':0.15,visibility:'hidden'});svg.appendChild(selY);
  function yrange(){return yz?yz:[Y[0],Y[1]];}
  function valueAt(y){var r=yrange();return r[0]+(P[3]-y)/(P[3]-P[1])*(r[1]-r[0]);}
  function py(e){var r=svg.getBoundingClientRect(),vb=svg.viewBox.baseVal;return (e.clientY-r.top)*(vb&&vb.height?vb.height/r.height:1);}
  function range(){return zoom?[Math.max(X[0],zoom[0]),Math.min(X[1],zoom[1])]:[X[0],X[1]];}
  function px(x){var r=svg.getBoundingClientRect(),vb=svg.viewBox.baseVal;return (x-r.left)*(vb&&vb.width?vb.width/r.width:1);}
  function timeAt(x){var r=range();return r[0]+(x-P[0])/(P[2]-P[0])*(r[1]-r[0]);}
  function origX(t){return P[0]+(t-X[0])/(X[1]-X[0])*(P[2]-P[0]);}
  function value(y){return Y[0]+(P[3]-y)/(P[3]-P[1])*(Y[1]-Y[0]);}
  function hover(x,cx,cy){
    if(x<P[0]||x>P[2]){cursor.setAttribute('visibility','hidden');tip.hidden=true;return 0;}
    var t=timeAt(x),ox=origX(t),r=range(),reach=Math.max(4,(P[2]-P[0])*0.02*(r[1]-r[0])/(X[1]-X[0])),rows=[];
    series.forEach(function(s){if(!s.on)return;var y=at(s,ox,reach);
      if(y!==null)rows.push('<div><span class="swatch" style="background:'+s.c+'"></span>'+s.name.replace(/&/g,'&amp;').replace(/</g,'&lt;')+': <b>'+fmt(value(y))+'</b></div>');});
    cursor.setAttribute('x1',x);cursor.setAttribute('x2',x);cursor.setAttribute('visibility','visible');
    tip.innerHTML='<div>t = '+fmt(t)+' s</div>'+(rows.length?rows.join(''):'<div>no value here</div>');
    tip.hidden=false;tip.style.left=(cx+14)+'px';tip.style.top=(cy+14)+'px';
    return rows.length;
  }
  var down=null;
  svg.addEventListener('mousemove',function(e){var x=px(e.clientX);hover(x,e.clientX,e.clientY);
    if(downY!==null){var y=Math.min(Math.max(py(e),P[1]),P[3]);selY.setAttribute('y',Math.min(downY,y));selY.setAttribute('height',Math.abs(y-downY));selY.setAttribute('visibility','visible');return;}
    if(down!==null){sel.setAttribute('x',Math.min(down,x));sel.setAttribute('width',Math.abs(x-down));sel.setAttribute('visibility','visible');}});
  svg.addEventListener('mouseleave',function(){cursor.setAttribute('visibility','hidden');tip.hidden=true;down=null;downY=null;sel.setAttribute('visibility','hidden');selY.setAttribute('visibility','hidden');});
  svg.addEventListener('mousedown',function(e){var x=px(e.clientX),y=py(e);if(x>=P[0]&&x<=P[2]&&y>=P[1]&&y<=P[3]){if(e.shiftKey)downY=y;else down=x;e.preventDefault();}});
  svg.addEventListener('mouseup',function(e){
    if(downY!==null){var y=Math.min(Math.max(py(e),P[1]),P[3]),a=Math.min(downY,y),b=Math.max(downY,y);downY=null;selY.setAttribute('visibility','hidden');
      if(b-a>5)setY([valueAt(b),valueAt(a)]);return;}
    if(down===null)return;var x=px(e.clientX),a=Math.min(down,x),b=Math.max(down,x);down=null;sel.setAttribute('visibility','hidden');
    if(b-a>5)setZoom([timeAt(a),timeAt(b)]);});
  svg.addEventListener('dblclick',function(){setY(null);setZoom(null);});
  // A value range of this chart alone (charts have their own units); null shows all of it.
  function setY(z){yz=z&&z[1]>z[0]?z:null;apply();}
  function apply(){
    var r=range(),k=(X[1]-X[0])/Math.max(r[1]-r[0],1e-12),yr=yrange(),H=P[3]-P[1],ky=(Y[1]-Y[0])/Math.max(yr[1]-yr[0],1e-12);
    var ty=yz?P[3]-ky*P[3]+(yr[0]-Y[0])*H/Math.max(yr[1]-yr[0],1e-12):0;
    inner.setAttribute('transform',zoom||yz?'matrix('+k+' 0 0 '+ky+' '+(P[0]-origX(r[0])*k)+' '+ty+')':'');
    ticks.forEach(function(t){t.style.visibility=zoom?'hidden':'';});
    yaxis.forEach(function(t){t.style.visibility=yz?'hidden':'';});
    while(own.firstChild)own.removeChild(own.firstChild);
    if(zoom)for(var i=0;i<=4;i++){var tx=el(svg,'text',{x:P[0]+i*(P[2]-P[0])/4,y:P[3]+16});tx.textContent=fmt(r[0]+i*(r[1]-r[0])/4);own.appendChild(tx);}
    if(yz)for(var j=0;j<=4;j++){var yy=P[3]-j*H/4,ty2=el(svg,'text',{x:P[0]-8,y:yy+4,'text-anchor':'end'});ty2.textContent=fmt(yr[0]+j*(yr[1]-yr[0])/4);own.appendChild(ty2);
      own.appendChild(el(svg,'line',{x1:P[0],x2:P[2],y1:yy,y2:yy,stroke:'#000',opacity:0.08}));}
    svg.setAttribute('data-yzoom',yz?fmt(yr[0])+' '+fmt(yr[1]):'');
  }
  return {svg:svg,hover:hover,apply:apply,setY:setY,P:P,X:X,Y:Y,series:series};
}
function setZoom(z){zoom=z;charts.forEach(function(c){c.apply();});
  bar.querySelector('span').innerHTML=z?('Showing '+fmt(z[0])+' s to '+fmt(z[1])+' s; drag again to zoom further.'):help;}
[].forEach.call(svgs,function(svg,n){var c=setup(svg,n);charts.push(c);svg.setAttribute('data-ready','1');});
var hovered=0;
charts.forEach(function(c){var r=c.svg.getBoundingClientRect(),vb=c.svg.viewBox.baseVal,s=vb&&vb.width?r.width/vb.width:1;
  for(var f=0.05;f<1;f+=0.05){var x=c.P[0]+f*(c.P[2]-c.P[0]);if(c.hover(x,r.left+x*s,r.top)>0){hovered++;c.svg.setAttribute('data-hover','1');break;}}});
charts.forEach(function(c){c.hover(-1,0,0);});
if(charts.length){var X=charts[0].X;setZoom([X[0]+(X[1]-X[0])/4,X[0]+(X[1]-X[0])/2]);var zoomed=charts.every(function(c){return /matrix/.test(c.svg.querySelector('g[clip-path] > g').getAttribute('transform')||'');});setZoom(null);body.setAttribute('data-zoom',zoomed?'ok':'failed');
  var c0=charts[0];c0.setY([c0.Y[0]+(c0.Y[1]-c0.Y[0])/4,c0.Y[0]+(c0.Y[1]-c0.Y[0])/2]);var m=(c0.svg.querySelector('g[clip-path] > g').getAttribute('transform')||'').match(/matrix\(([^)]*)\)/),yk=m?+m[1].split(/[ ,]+/)[3]:1;c0.setY(null);
  body.setAttribute('data-yzoom',Math.abs(yk-4)<1e-9&&!c0.svg.getAttribute('data-yzoom')?'ok':'failed');}
var widest=0;d.querySelectorAll('table').forEach(function(t){widest=Math.max(widest,t.scrollWidth);});
body.setAttribute('data-charts',String(charts.length));body.setAttribute('data-hovered',String(hovered));
body.setAttribute('data-widest-table',String(widest));body.setAttribute('data-interactive','ready');
})();"#;

/// Appends the script, at the end of the body so that the charts exist when it runs.
pub(super) fn script(out: &mut String) {
    let _ = writeln!(out, "<script>\n{SCRIPT}\n</script>");
}
